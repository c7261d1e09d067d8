// SPDX-License-Identifier: GPL-2.0

//! The ESP trailer of a decrypted packet (RFC 4303 section 2.4): padding,
//! pad length, next header; then trailer, ICV, header and IV off.

use crate::{esp::ESP_HDR_LEN, rust::skb::OwnedSkb};

/// Bytes copied from in front of the ICV to read the trailer: pad length,
/// next header, and up to 16 bytes of padding (a cipher block).
const TAIL_BYTES: usize = 18;

/// Why a trailer was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Too short to hold a trailer, or unreadable.
    Malformed,
    /// The pad length runs past the payload, or the padding is not
    /// `1, 2, 3, ...`.
    Padding,
    /// The packet could not be trimmed or its headers pulled (memory).
    Strip,
}

/// Whether `pad` holds the padding bytes `first + 1, first + 2, ...`.
fn pad_is_monotonic(pad: &[u8], first: usize) -> bool {
    pad.iter()
        .enumerate()
        .all(|(i, &b)| usize::from(b) == first + i + 1)
}

/// The padding check of a packet padded beyond a cipher block: `padlen`
/// bytes at `off`, copied a block at a time.
fn long_pad_ok(skb: &OwnedSkb, off: usize, padlen: usize) -> bool {
    let mut chunk = [0u8; 32];
    let mut done = 0;
    while done < padlen {
        let n = (padlen - done).min(chunk.len());
        let c = &mut chunk[..n];
        if !skb.copy_bits(off + done, c) || !pad_is_monotonic(c, done) {
            return false;
        }
        done += n;
    }
    true
}

/// Checks the trailer of the decrypted ESP packet at `data` (an IV of
/// `ivlen` bytes, an ICV of `alen`) and strips it: on success `data` is at
/// the payload, which ends where the padding began; returns the next header.
pub(crate) fn strip(skb: &mut OwnedSkb, ivlen: usize, alen: usize) -> Result<u8, Bad> {
    let len = skb.view().len() as usize;
    let elen = len.checked_sub(ESP_HDR_LEN + ivlen).ok_or(Bad::Malformed)?;
    // The bytes before the ICV hold the pad length, the next header and,
    // unless the sender padded beyond what alignment needs, the whole
    // padding: read in place if they are in the linear area (a linear
    // packet's are), else copied.
    let avail = elen
        .checked_sub(alen)
        .ok_or(Bad::Malformed)?
        .min(TAIL_BYTES);
    if avail < 2 {
        return Err(Bad::Malformed);
    }
    let at = len - alen - avail;
    let mut buf = [0u8; TAIL_BYTES];
    let tail: &[u8] = match skb.linear(at, avail) {
        Some(t) => t,
        None => {
            let t = &mut buf[..avail];
            if !skb.copy_bits(at, t) {
                return Err(Bad::Malformed);
            }
            t
        }
    };
    let (padlen, nexthdr) = (usize::from(tail[avail - 2]), tail[avail - 1]);
    if padlen + 2 + alen >= elen {
        return Err(Bad::Padding);
    }
    let pad_ok = match tail.get(avail - 2 - padlen.min(avail - 2)..avail - 2) {
        Some(pad) if pad.len() == padlen => pad_is_monotonic(pad, 0),
        _ => long_pad_ok(skb, len - alen - 2 - padlen, padlen),
    };
    if !pad_ok {
        return Err(Bad::Padding);
    }
    // The trailer and ICV off the end, the ESP header and IV off the front.
    if !skb.trim(len - alen - 2 - padlen) || !skb.pull_rcsum(ESP_HDR_LEN + ivlen) {
        return Err(Bad::Strip);
    }
    skb.reset_transport_header();
    Ok(nexthdr)
}
