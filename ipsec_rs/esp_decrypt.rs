// SPDX-License-Identifier: GPL-2.0

//! Decryption set-up of an inbound ESP packet (RFC 4303 section 3.4.4):
//! what is associated data, where the IV is, and the ESN layout.
//!
//! The packet is decrypted in place with the SA's transform
//! (`esp_algs::decrypting_transform`, an IV generator's child), so the
//! request is laid out as seqiv and echainiv lay it out for their child:
//! the associated data is the ESP header (SPI, sequence number) and the
//! explicit IV, the ciphertext runs from the end of the IV to the end of
//! the packet, ICV included. With extended sequence numbers the high 32
//! bits are authenticated too (RFC 4303 appendix A), in the layout esp4
//! and esp6 use: the header is moved 4 bytes back into the headroom for the
//! duration, as `SPI | seq_hi | seq_lo | IV`, and restored before the
//! caller's completion runs.
//!
//! The request memory comes from the receive path's pool (`esp_input.rs`),
//! whose per-CPU spares hold [`REQ_SLOT`] bytes: enough for the request of
//! every algorithm we take (`esp_algs.rs`) with a packet of up to a few
//! dozen fragments; a larger request is a plain allocation.

use crate::{
    esp::ESP_HDR_LEN,
    rust::{
        aead::{self, Aead, AeadInfo, Completion, InPlace, RequestPool},
        bindings as b,
        skb::OwnedSkb,
    },
};

/// Bytes of a per-CPU spare request buffer.
pub(crate) const REQ_SLOT: usize = 1024;

/// Bytes the ESN layout inserts (the high sequence bits).
const SEQ_HI_LEN: usize = 4;

/// With ESN: the caller's completion, and the 4 bytes in front of the ESP
/// header (the end of the outer headers) that the SPI was moved over.
struct EspOp<C> {
    saved: [u8; SEQ_HI_LEN],
    inner: C,
}

impl<C: Completion> Completion for EspOp<C> {
    fn complete(self, mut skb: OwnedSkb, err: i32, sync: bool) {
        // SAFETY: the head was made private before decryption
        // (`make_writable`) and nothing shared it since; `data` is where
        // `decrypt` left it, 4 bytes in front of the ESP header.
        if let Some(h) = unsafe { skb.linear_mut(0, ESP_HDR_LEN + SEQ_HI_LEN) } {
            h.copy_within(0..SEQ_HI_LEN, SEQ_HI_LEN);
            h[..SEQ_HI_LEN].copy_from_slice(&self.saved);
        }
        skb.pull_linear(SEQ_HI_LEN);
        self.inner.complete(skb, err, sync)
    }
}

/// Decrypts and authenticates the ESP packet at `data` (header, IV,
/// ciphertext, ICV) in place; with `esn_hi`, the high sequence bits are
/// authenticated as well. `nfrags` is what `OwnedSkb::make_writable`
/// returned; `info` is `aead`'s. The caller checked that the packet holds
/// at least the header, the IV and the ICV, header and IV linear. Ends in
/// `ctx.complete` with the ESP header back at `data`: at once (`sync`) or
/// from the crypto layer's completion.
///
/// # Safety
///
/// `aead` must stay alive as long as `ctx` (which holds a reference on its
/// SA, say), and `pool` must outlive the request (see
/// [`aead::decrypt_in_place`]).
pub(crate) unsafe fn decrypt<C: Completion>(
    pool: &RequestPool,
    aead: Aead<'_>,
    info: &AeadInfo,
    mut skb: OwnedSkb,
    nfrags: usize,
    esn_hi: Option<u32>,
    ctx: C,
) {
    let len = skb.view().len() as usize;
    let Some(cryptlen) = len.checked_sub(ESP_HDR_LEN + info.ivsize) else {
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    let Some(hi) = esn_hi else {
        // Without ESN the packet is decrypted as it lies, and `ctx` completes
        // directly (no wrapper to move it through).
        let at = InPlace {
            nfrags,
            iv_at: ESP_HDR_LEN,
            assoclen: ESP_HDR_LEN + info.ivsize,
            cryptlen,
        };
        // SAFETY: the caller's contract.
        return unsafe { aead::decrypt_in_place(pool, aead, info, skb, at, ctx) };
    };
    // SAFETY: the head is private (`make_writable`, caller); what lies in
    // front of the ESP header is the outer IP (and UDP) header in the same
    // head.
    let Some(h) = (unsafe { skb.push_linear(SEQ_HI_LEN, ESP_HDR_LEN + SEQ_HI_LEN) }) else {
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    let mut saved = [0u8; SEQ_HI_LEN];
    saved.copy_from_slice(&h[..SEQ_HI_LEN]);
    h.copy_within(SEQ_HI_LEN..2 * SEQ_HI_LEN, 0);
    h[SEQ_HI_LEN..2 * SEQ_HI_LEN].copy_from_slice(&hi.to_be_bytes());
    let at = InPlace {
        nfrags,
        iv_at: ESP_HDR_LEN + SEQ_HI_LEN,
        assoclen: ESP_HDR_LEN + SEQ_HI_LEN + info.ivsize,
        cryptlen,
    };
    // SAFETY: the caller's contract, which `EspOp` (owning `ctx`) keeps.
    unsafe { aead::decrypt_in_place(pool, aead, info, skb, at, EspOp { saved, inner: ctx }) }
}
