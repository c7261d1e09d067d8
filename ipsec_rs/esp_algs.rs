// SPDX-License-Identifier: GPL-2.0

//! Which SAs' algorithms the module decrypts, and with which transform.
//!
//! The transform is the one esp4/esp6 built for the SA (`x->data`: for
//! example `seqiv(rfc4106(gcm(aes)))` or
//! `echainiv(authenc(hmac(sha256),cbc(aes)))`, keys set), so keys never
//! leave XFRM. We decrypt with the IV generator's child (`rfc4106(gcm(aes))`,
//! ...): the generator's decryption only copies the explicit IV out of the
//! packet, counts it in the associated data and calls the child, which
//! `esp_decrypt.rs` does itself without the generator's pass and
//! scatterlist walk.
//!
//! To take another algorithm: add it to [`Alg`] and [`Alg::of`] (and to
//! the selftests' matrix); to take another IV generator: add its template
//! name to [`IV_GENERATORS`], if it is built on the crypto API's
//! `aead_geniv_alloc()` (its context is an `aead_geniv_ctx`) and its
//! decryption is the plain "IV from the packet, counted as associated
//! data" of seqiv and echainiv. An SA whose algorithm or generator is not
//! listed here goes to XFRM (`passed_to_xfrm`).

use crate::rust::{
    aead::AeadInfo,
    xfrm::{AlgNames, StateRef},
};

/// The algorithms the module decrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    /// `rfc4106(gcm(aes))`.
    Rfc4106Gcm,
    /// `cbc(aes)` encryption with `hmac(sha256)` authentication.
    CbcAesHmacSha256,
}

impl Alg {
    /// The algorithm of an SA with these names, if we take it.
    pub(crate) fn of(n: &AlgNames<'_>) -> Option<Alg> {
        match (n.aead, n.enc, n.auth) {
            (Some(b"rfc4106(gcm(aes))"), _, _) => Some(Alg::Rfc4106Gcm),
            (None, Some(b"cbc(aes)"), Some(b"hmac(sha256)")) => Some(Alg::CbcAesHmacSha256),
            _ => None,
        }
    }
}

/// The IV generator templates whose child we decrypt with (see the module
/// documentation for what qualifies one).
const IV_GENERATORS: [&[u8]; 2] = [b"seqiv", b"echainiv"];

/// The transform that decrypts for SA `x`, the child of its IV generator,
/// as the facts its requests are made from (`Aead::info`); `None` without
/// a transform, if it is not an instance of one of [`IV_GENERATORS`], or
/// if its requests need more alignment or room than we lay out for.
pub(crate) fn decrypting_transform(x: &StateRef) -> Option<AeadInfo> {
    let tfm = x.transform()?;
    let name = tfm.template_name()?;
    if !IV_GENERATORS.contains(&name) {
        return None;
    }
    // SAFETY: an instance of seqiv or echainiv, both built by
    // `aead_geniv_alloc()` with an `aead_geniv_ctx` context (checked above).
    unsafe { tfm.geniv_child() }?.info()
}
