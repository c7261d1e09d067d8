//! The encoding of netlink attributes, for every message of the family.
//!
//! An attribute is `struct nlattr { u16 nla_len; u16 nla_type; }` followed by the payload;
//! `nla_len` counts the 4-byte header and the payload, and the next attribute starts at the
//! next 4-byte boundary.  The top two bits of `nla_type` are flags ([`NLA_F_NESTED`],
//! [`NLA_F_NET_BYTEORDER`]) and are masked off when decoding.  Integers are in host byte
//! order, as everywhere in netlink.  Enumerations
//! ([`DfMode`](super::super::frag::DfMode), [`PreFrag`](super::super::frag::PreFrag)) are
//! `u8` values starting at 1 so that 0 is never a valid setting.
//!
//! Encoding writes into a caller-provided `&mut [u8]` and fails with [`NoSpace`] when it is
//! too small.  Decoding is strict: an attribute with a wrong size, a duplicate, an
//! out-of-range value or a missing mandatory attribute is an [`NlError`] whose message is
//! meant for the netlink extended ACK.  Unknown attribute types are rejected in requests
//! ([`Unknown::Reject`], what the kernel uses) and may be skipped when reading replies and
//! events ([`Unknown::Skip`], what userspace uses, so that an older tool keeps working with
//! a newer module).

use core::ffi::CStr;

/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Attribute type flag: the payload is a nested attribute stream.
pub const NLA_F_NESTED: u16 = 0x8000;
/// Attribute type flag: the payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask giving the attribute type without flags.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Encoding ran out of buffer space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSpace;

/// A decoding or validation error, for the netlink extended ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlError {
    /// Human-readable reason.
    pub msg: &'static str,
    /// The same reason NUL-terminated, for the kernel's extended ACK (which keeps
    /// a pointer to a static C string).
    pub cmsg: &'static CStr,
    /// Byte offset of the offending attribute's header in the decoded buffer, if one is to
    /// blame (for `NL_SET_ERR_MSG_ATTR`-style pointers).
    pub offset: Option<usize>,
}

const fn c_to_str(c: &'static CStr) -> &'static str {
    match c.to_str() {
        Ok(s) => s,
        Err(_) => "invalid request",
    }
}

impl NlError {
    pub(super) const fn new(msg: &'static CStr) -> Self {
        NlError {
            msg: c_to_str(msg),
            cmsg: msg,
            offset: None,
        }
    }
    pub(super) const fn at(msg: &'static CStr, offset: usize) -> Self {
        NlError {
            msg: c_to_str(msg),
            cmsg: msg,
            offset: Some(offset),
        }
    }
}

/// What decoders do with attribute types they do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// Fail with "unknown attribute" (requests, in the kernel).
    Reject,
    /// Ignore them (replies and events, in userspace).
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, fuzz, tests"))]
    Skip,
}

const fn align4(n: usize) -> usize {
    // Callers pass at most 65535 + 4, no overflow.
    (n + 3) & !3
}

/// Writes attributes into a caller-provided buffer.
#[derive(Debug)]
pub struct AttrWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

/// An open nested attribute, closed by [`AttrWriter::nest_end`].
#[derive(Debug)]
#[must_use]
pub struct Nest {
    start: usize,
}

impl<'a> AttrWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        AttrWriter { buf, len: 0 }
    }

    /// Bytes written so far (always a multiple of 4).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes an attribute header for `payload_len` bytes and returns the payload range.
    fn header(&mut self, kind: u16, payload_len: usize) -> Result<usize, NoSpace> {
        let nla_len = payload_len.checked_add(NLA_HDRLEN).ok_or(NoSpace)?;
        let nla_len16 = u16::try_from(nla_len).map_err(|_| NoSpace)?;
        let end = self.len.checked_add(align4(nla_len)).ok_or(NoSpace)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(NoSpace)?;
        dst.fill(0);
        let (hdr, _) = dst.split_at_mut(NLA_HDRLEN);
        let (l, t) = hdr.split_at_mut(2);
        l.copy_from_slice(&nla_len16.to_ne_bytes());
        t.copy_from_slice(&kind.to_ne_bytes());
        let payload_at = self.len + NLA_HDRLEN;
        self.len = end;
        Ok(payload_at)
    }

    /// Appends attribute `kind` with `payload`.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> Result<(), NoSpace> {
        let at = self.header(kind, payload.len())?;
        let dst = self.buf.get_mut(at..at + payload.len()).ok_or(NoSpace)?;
        dst.copy_from_slice(payload);
        Ok(())
    }

    /// Appends a u8 attribute.
    pub fn put_u8(&mut self, kind: u16, v: u8) -> Result<(), NoSpace> {
        self.put(kind, &[v])
    }

    /// Appends a u16 attribute (host order).
    pub fn put_u16(&mut self, kind: u16, v: u16) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Appends a u32 attribute (host order).
    pub fn put_u32(&mut self, kind: u16, v: u32) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Appends a u64 attribute (host order).
    pub fn put_u64(&mut self, kind: u16, v: u64) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Opens a nested attribute of type `kind` (the [`NLA_F_NESTED`] flag is added).
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn nest_start(&mut self, kind: u16) -> Result<Nest, NoSpace> {
        let start = self.len;
        self.header(kind | NLA_F_NESTED, 0)?;
        Ok(Nest { start })
    }

    /// Closes a nested attribute, fixing its length.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), NoSpace> {
        let len = self.len.checked_sub(nest.start).ok_or(NoSpace)?;
        let len16 = u16::try_from(len).map_err(|_| NoSpace)?;
        let dst = self
            .buf
            .get_mut(nest.start..nest.start + 2)
            .ok_or(NoSpace)?;
        dst.copy_from_slice(&len16.to_ne_bytes());
        Ok(())
    }
}

/// One decoded attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Type without flags.
    pub kind: u16,
    /// The flag bits of `nla_type` ([`NLA_F_NESTED`], [`NLA_F_NET_BYTEORDER`]).
    pub flags: u16,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Offset of the attribute header in the buffer being iterated.
    pub offset: usize,
}

impl<'a> Attr<'a> {
    fn fixed<const N: usize>(&self) -> Result<[u8; N], NlError> {
        <[u8; N]>::try_from(self.payload)
            .map_err(|_| NlError::at(c"attribute has the wrong size", self.offset))
    }

    /// The payload as a u8.
    pub fn u8(&self) -> Result<u8, NlError> {
        self.fixed::<1>().map(|[b]| b)
    }

    /// The payload as a host-order u16.
    pub fn u16(&self) -> Result<u16, NlError> {
        self.fixed().map(u16::from_ne_bytes)
    }

    /// The payload as a host-order u32.
    pub fn u32(&self) -> Result<u32, NlError> {
        self.fixed().map(u32::from_ne_bytes)
    }

    /// The payload as a host-order u64.
    pub fn u64(&self) -> Result<u64, NlError> {
        self.fixed().map(u64::from_ne_bytes)
    }

    /// A u8 that must be 0 or 1.
    pub fn flag(&self) -> Result<bool, NlError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(NlError::at(
                c"boolean attribute must be 0 or 1",
                self.offset,
            )),
        }
    }

    /// The payload as a nested attribute stream.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: fuzz, tests"))]
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

/// Iterator over the attributes of a buffer.  Yields an error (and then stops) on a
/// malformed header.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    off: usize,
    failed: bool,
}

impl<'a> Attrs<'a> {
    /// Iterates over the attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs {
            buf,
            off: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.off..)?;
        if rest.is_empty() {
            return None;
        }
        let off = self.off;
        let fail = |s: &mut Self, msg| {
            s.failed = true;
            Some(Err(NlError::at(msg, off)))
        };
        let (Some(&[l0, l1]), Some(&[t0, t1])) = (
            rest.get(0..2).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
            rest.get(2..4).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
        ) else {
            return fail(self, c"truncated attribute header");
        };
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let ty = u16::from_ne_bytes([t0, t1]);
        if len < NLA_HDRLEN {
            return fail(self, c"attribute length below header size");
        }
        let Some(payload) = rest.get(NLA_HDRLEN..len) else {
            return fail(self, c"attribute extends past the message");
        };
        // The last attribute's padding may be missing.
        self.off = off + align4(len).min(rest.len());
        Some(Ok(Attr {
            kind: ty & NLA_TYPE_MASK,
            flags: ty & !NLA_TYPE_MASK,
            payload,
            offset: off,
        }))
    }
}

/// Walks `buf`, rejecting duplicates, types above `max` (unless skipped) and type 0, and
/// calls `f` for each known attribute.  Attribute offsets are relative to `buf`.
pub(super) fn walk<'a>(
    buf: &'a [u8],
    max: u16,
    unknown: Unknown,
    mut f: impl FnMut(Attr<'a>) -> Result<(), NlError>,
) -> Result<(), NlError> {
    let mut seen: u64 = 0;
    for a in Attrs::new(buf) {
        let a = a?;
        if a.kind == 0 || a.kind > max {
            match unknown {
                Unknown::Reject => return Err(NlError::at(c"unknown attribute", a.offset)),
                Unknown::Skip => continue,
            }
        }
        // max < 64 for every set, so the shift is in range.
        let bit = 1u64 << (a.kind & 63);
        if seen & bit != 0 {
            return Err(NlError::at(c"duplicate attribute", a.offset));
        }
        seen |= bit;
        f(a)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::attr;
    use super::*;

    #[test]
    fn writer_layout() {
        let mut b = [0xffu8; 32];
        let mut w = AttrWriter::new(&mut b);
        w.put_u8(7, 0xab).unwrap();
        let n = w.nest_start(2).unwrap();
        w.put_u16(1, 0x0102).unwrap();
        w.nest_end(n).unwrap();
        assert_eq!(w.len(), 8 + 4 + 8);
        assert!(!w.is_empty());
        // u8 attribute: len 5, type 7, payload, 3 zero pad bytes.
        let mut want = [0u8; 8];
        want[0..2].copy_from_slice(&5u16.to_ne_bytes());
        want[2..4].copy_from_slice(&7u16.to_ne_bytes());
        want[4] = 0xab;
        assert_eq!(&b[0..8], &want);
        let outer: Vec<_> = Attrs::new(&b[..20]).collect::<Result<_, _>>().unwrap();
        assert_eq!(outer.len(), 2);
        assert_eq!(outer[1].kind, 2);
        assert_eq!(outer[1].flags, NLA_F_NESTED);
        let inner: Vec<_> = outer[1].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].u16(), Ok(0x0102));
        assert_eq!(inner[0].offset, 0);
    }

    #[test]
    fn iterator_rejects_bad_headers() {
        let first = |b: &[u8]| Attrs::new(b).next().unwrap().unwrap_err().msg;
        assert_eq!(first(&[1, 0]), "truncated attribute header");
        assert_eq!(first(&[3, 0, 1, 0]), "attribute length below header size");
        assert_eq!(
            first(&[9, 0, 1, 0, 0, 0]),
            "attribute extends past the message"
        );
        // After an error the iterator stops.
        let mut it = Attrs::new(&[3, 0, 1, 0, 8, 0, 1, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        // Missing padding after the last attribute is accepted.
        let a: Vec<_> = Attrs::new(&[5, 0, 1, 0, 9])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(a[0].u8(), Ok(9));
        // Byte-order flag is masked.
        let b = attr(3 | NLA_F_NET_BYTEORDER, &[1, 2, 3, 4]);
        let a = Attrs::new(&b).next().unwrap().unwrap();
        assert_eq!((a.kind, a.flags), (3, NLA_F_NET_BYTEORDER));
    }
}
