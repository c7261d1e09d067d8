// SPDX-License-Identifier: GPL-2.0

//! AEAD decryption of an ESP packet in place, with the SA's own transform,
//! from softirq: synchronous or asynchronous.
//!
//! The transform is the one esp4/esp6 built for the SA (`x->data`: for
//! example `seqiv(rfc4106(gcm(aes)))` or `echainiv(authenc(hmac(sha256),cbc(aes)))`,
//! keys set), so keys never leave XFRM and every algorithm XFRM can run is
//! one we could run; more exactly its IV generator's child
//! (`rfc4106(gcm(aes))`, ...: `StateRef::aead`), since the generator's
//! decryption is only "copy the explicit IV out of the packet, count it in
//! the associated data, call the child", which we do here without the
//! generator's pass and scatterlist walk.
//!
//! Such a transform may be asynchronous (with AES-NI the AEAD is a SIMD
//! wrapper that defers to `cryptd` when the FPU is not usable):
//! `crypto_aead_decrypt()` then returns `-EINPROGRESS` and the completion
//! runs later, from `cryptd`'s worker with bottom halves disabled. The
//! request memory must therefore live until the completion: it is one
//! buffer per packet (IV, request, scatterlist), like esp4's, freed on
//! every path; a per-CPU scratch area would be reused by the next packet
//! on that CPU while an asynchronous request still owns it. The buffers
//! come from `ipsec_rs_req_alloc` (shims.c): GFP_ATOMIC, with one spare
//! kept per CPU, so that a synchronous decryption, which frees on the CPU
//! that allocated, costs no trip through the slab allocator; the spares
//! are released by [`release_spares`] at unload.
//!
//! No `CRYPTO_TFM_REQ_MAY_BACKLOG`: a full asynchronous queue fails the
//! request (`-EBUSY`) and the packet is dropped and counted, as in esp4.
//! No `CRYPTO_TFM_REQ_MAY_SLEEP`: we run in softirq.

use super::{bindings as b, skb::{DevRef, OwnedSkb}};
use core::{
    ffi::c_void,
    marker::PhantomData,
    mem::{size_of, ManuallyDrop},
    ptr::NonNull,
};

/// ESP header length (SPI and sequence number).
pub const ESP_HDR_LEN: usize = 8;

/// Counts an asynchronous decryption pending (`1`, once the crypto layer
/// said `-EINPROGRESS`) or completed (`-1`, by its completion): a per-CPU
/// counter whose sum is the number in flight (module-wide), so that the
/// packet path of every CPU does not write one shared cache line. A
/// synchronous decryption is never counted: it ends before the handler
/// returns.
fn inflight(v: i64) {
    // SAFETY: per-CPU add, any context.
    unsafe { b::ipsec_rs_inflight_add(v as _) }
}

/// Waits until no asynchronous decryption is pending, so that their
/// completions (module code, per-namespace state) have all run. Process
/// context, and only once no decryption can start any more: the protocol
/// handlers unregistered *and* a grace period over (their deregistration
/// calls `synchronize_net()`), so that every handler that counted a +1 has
/// returned. Then only -1s change the counters while the sum is read, so
/// it cannot read zero while one is pending: the sum is every +1 less at
/// most the -1s that already happened. (A completion may run on another
/// CPU before its handler counted the +1, making the sum briefly -1: never
/// zero too early. With starts still possible, a start on one CPU and its
/// completion on another, read in the wrong order, could cancel a pending
/// +1 out: hence only at unload.)
pub fn wait_idle() {
    // SAFETY: reads the per-CPU counters; any context.
    while unsafe { b::ipsec_rs_inflight_sum() } != 0 {
        // SAFETY: process context (caller).
        unsafe { b::msleep(1) };
    }
}

/// Frees the spare request buffers kept per CPU. Process context, after
/// [`wait_idle`] (no request can be allocated or freed any more).
pub fn release_spares() {
    // SAFETY: no packet path runs (caller); frees what the shims kept.
    unsafe { b::ipsec_rs_req_drain() }
}

/// An AEAD transform borrowed from an SA.
pub struct Aead<'a> {
    tfm: NonNull<b::crypto_aead>,
    _borrow: PhantomData<&'a ()>,
}

impl Aead<'_> {
    /// Borrows a transform.
    ///
    /// # Safety
    ///
    /// `tfm` must be a live AEAD transform with its keys set, not freed for `'a`.
    pub unsafe fn from_raw<'a>(tfm: *mut b::crypto_aead) -> Aead<'a> {
        Aead {
            // SAFETY: non-null per the caller's contract (checked by the caller).
            tfm: unsafe { NonNull::new_unchecked(tfm) },
            _borrow: PhantomData,
        }
    }

    /// The sizes a decryption needs, read once (they are fixed for the
    /// transform's life: XFRM never re-keys or resizes an SA's transform).
    pub fn info(&self) -> AeadInfo {
        let tfm = self.tfm.as_ptr();
        // SAFETY: live transform; plain reads of its configuration.
        unsafe {
            AeadInfo {
                tfm: Tfm(self.tfm),
                ivsize: b::ipsec_rs_crypto_aead_ivsize(tfm) as usize,
                authsize: b::ipsec_rs_crypto_aead_authsize(tfm) as usize,
                alignmask: b::ipsec_rs_crypto_aead_alignmask(tfm) as usize,
                reqsize: b::ipsec_rs_crypto_aead_reqsize(tfm) as usize,
                ctx_align: b::ipsec_rs_crypto_tfm_ctx_alignment() as usize,
            }
        }
    }
}

/// A transform's address, kept by an [`AeadInfo`].
#[derive(Clone, Copy, Debug)]
struct Tfm(NonNull<b::crypto_aead>);

// SAFETY: a transform's address; the transform is shared by design (the
// crypto API allows concurrent requests on one transform), and only
// `AeadInfo::aead`, whose caller vouches for its life, turns it into one.
unsafe impl Send for Tfm {}
// SAFETY: as above.
unsafe impl Sync for Tfm {}

/// An AEAD transform's sizes (`Aead::info`), and the transform.
#[derive(Clone, Copy, Debug)]
pub struct AeadInfo {
    tfm: Tfm,
    /// IV length on the wire.
    pub ivsize: usize,
    /// ICV length.
    pub authsize: usize,
    alignmask: usize,
    reqsize: usize,
    ctx_align: usize,
}

impl AeadInfo {
    /// The transform these facts were read from, again, without asking
    /// the SA for it per packet.
    ///
    /// # Safety
    ///
    /// The transform must still be alive for `'a` (for example: the caller
    /// holds a reference on the SA it belongs to).
    pub unsafe fn aead<'a>(&self) -> Aead<'a> {
        Aead { tfm: self.tfm.0, _borrow: PhantomData }
    }
}

/// What happens once a decryption finished: called exactly once, with the
/// packet (ESP header back in place, `data` at it) and the result: 0, or
/// `-EBADMSG` (ICV mismatch), or another negative errno. Softirq or BH
/// disabled: `sync` says whether from within [`esp_decrypt`] (the
/// decryption finished, or failed to start, before it returned: the
/// caller's context) or from the crypto layer's completion of an
/// asynchronous request.
pub trait Completion: Send + Sized + 'static {
    /// The transform to decrypt with, which must stay alive as long as
    /// `self` does (for example, held by the SA reference `self` owns).
    fn aead(&self) -> Option<Aead<'_>>;

    /// Continues with the decrypted (or rejected) packet.
    fn complete(self, skb: OwnedSkb, err: i32, sync: bool);
}

/// Head of the per-packet allocation; IV, request and scatterlist follow.
#[repr(C)]
struct OpHead<C> {
    skb: *mut b::sk_buff,
    ctx: ManuallyDrop<C>,
    /// The receiving device, held while the operation is pending.
    dev: ManuallyDrop<Option<DevRef>>,
    /// Bytes the ESN layout overwrote in front of the ESP header.
    saved: [u8; 4],
    esn: bool,
    /// The size the allocation was asked for (`ipsec_rs_req_free` needs it).
    size: usize,
}

/// What kmalloc aligns every allocation to, at least (ARCH_KMALLOC_MINALIGN
/// on x86-64 and arm64 is 8 or more).
const KMALLOC_MIN_ALIGN: usize = 8;

const fn align_up(v: usize, a: usize) -> usize {
    (v + a - 1) & !(a - 1)
}

/// Decrypts the ESP packet at `skb->data` in place (header, IV, payload,
/// ICV), authenticating the SPI and sequence number. With `esn_hi`, the
/// high 32 sequence bits are authenticated too (RFC 4303 appendix A,
/// the layout esp4 uses: the header is moved 4 bytes forward for the
/// duration and restored before `complete`). `nfrags` is what
/// `OwnedSkb::make_writable()` returned; `info` is the transform's
/// (`Aead::info` of `ctx.aead()`, an IV generator's child: the IV is
/// copied from the packet here and authenticated as associated data, as
/// seqiv and echainiv decrypt). The caller checked that the packet holds at
/// least the header, the IV and the ICV, header and IV in the linear area.
/// Always ends in `ctx.complete`: before returning (`sync`) if the
/// decryption finished or could not start, else from the completion.
pub fn esp_decrypt<C: Completion>(mut skb: OwnedSkb, nfrags: usize, esn_hi: Option<u32>, info: &AeadInfo, ctx: C) {
    // The transform lives as long as `ctx` (`Completion::aead`), which the
    // operation owns until the end: the raw pointer outlives the borrow.
    let tfm = match ctx.aead() {
        Some(a) => a.tfm.as_ptr(),
        None => return ctx.complete(skb, -(b::EINVAL as i32), true),
    };
    let ivlen = info.ivsize;
    let len = skb.view().len() as usize;
    let Some(elen) = len.checked_sub(ESP_HDR_LEN + ivlen) else {
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    // One GFP_ATOMIC allocation, as esp4's: the head at its start (kmalloc
    // aligns to at least 8 bytes, enough for it), then the IV, request and
    // scatterlist, each aligned at run time from the actual address (the
    // IV to the transform's alignmask, the request to the context
    // alignment), with room for the padding counted in.
    const { assert!(core::mem::align_of::<OpHead<C>>() <= KMALLOC_MIN_ALIGN) };
    let (alignmask, reqsize, ctx_align) = (info.alignmask, info.reqsize, info.ctx_align.max(KMALLOC_MIN_ALIGN));
    let sg_align = core::mem::align_of::<b::scatterlist>();
    let total = size_of::<OpHead<C>>()
        + alignmask
        + ivlen
        + (ctx_align - 1)
        + size_of::<b::aead_request>()
        + reqsize
        + (sg_align - 1)
        + nfrags * size_of::<b::scatterlist>();
    // SAFETY: any context with BH disabled (softirq, or a completion).
    let base = unsafe { b::ipsec_rs_req_alloc(total) }.cast::<u8>();
    if base.is_null() {
        return ctx.complete(skb, -(b::ENOMEM as i32), true);
    }
    let at = |addr: usize| base.wrapping_add(addr - base as usize);
    let iv_addr = align_up(base as usize + size_of::<OpHead<C>>(), alignmask + 1);
    let req_addr = align_up(iv_addr + ivlen, ctx_align);
    let sg_addr = align_up(req_addr + size_of::<b::aead_request>() + reqsize, sg_align);

    // The explicit IV, before the ESN layout moves the header.
    let Some(wire_iv) = skb.linear(ESP_HDR_LEN, ivlen) else {
        // SAFETY: `base` came from `ipsec_rs_req_alloc(total)` just above
        // and holds nothing yet.
        unsafe { b::ipsec_rs_req_free(base.cast::<c_void>(), total) };
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    // SAFETY: `iv_addr..iv_addr + ivlen` lies within the allocation (see
    // `total`); the source is the packet's linear bytes, disjoint from it.
    unsafe { core::ptr::copy_nonoverlapping(wire_iv.as_ptr(), at(iv_addr), ivlen) };
    // Associated data: SPI, (high sequence bits,) sequence number, IV.
    let assoclen = ESP_HDR_LEN + if esn_hi.is_some() { 4 } else { 0 } + ivlen;
    let mut saved = [0u8; 4];
    if let Some(hi) = esn_hi {
        // SAFETY: `data` has an IP (and maybe UDP) header in front in the
        // same linear, private head (`make_writable`), so 4 bytes of
        // headroom exist; the ESP header is linear (caller pulled it).
        unsafe {
            let p = b::ipsec_rs___skb_push(skb.as_ptr(), 4).cast::<u8>();
            core::ptr::copy_nonoverlapping(p, saved.as_mut_ptr(), 4);
            core::ptr::copy(p.add(4), p, 4);
            core::ptr::copy_nonoverlapping(hi.to_be_bytes().as_ptr(), p.add(4), 4);
        }
    }

    // SAFETY: `base` holds `total` bytes, 8-aligned (kmalloc); the head
    // fits at its start and every part below lies within it, aligned as
    // computed above (`total` counts the worst-case padding).
    let (head, iv, req, sg) = unsafe {
        let head = base.cast::<OpHead<C>>();
        head.write(OpHead { skb: core::ptr::null_mut(), ctx: ManuallyDrop::new(ctx), dev: ManuallyDrop::new(None), saved, esn: esn_hi.is_some(), size: total });
        (head, at(iv_addr), at(req_addr).cast::<b::aead_request>(), at(sg_addr).cast::<b::scatterlist>())
    };

    // SAFETY: `sg` has room for `nfrags` entries; the skb is ours, its data
    // writable in place, and spans `nfrags` segments at most.
    let n = unsafe {
        b::sg_init_table(sg, nfrags as u32);
        b::skb_to_sgvec(skb.as_ptr(), sg, 0, skb.view().len() as i32)
    };
    if n < 0 {
        // SAFETY: `head` was initialised above and is taken back once.
        let (ctx, skb, _dev) = unsafe { finish(head, skb.into_raw()) };
        return ctx.complete(skb, n, true);
    }
    skb.set_csum_none();
    let dev = skb.hold_dev();
    let cryptlen = elen as u32;
    // SAFETY: the request lives in our allocation with `reqsize` bytes of
    // context behind it; IV buffer of `ivlen` bytes; the skb (now owned by
    // the operation) stays alive until `finish`.
    let err = unsafe {
        (*head).skb = skb.into_raw();
        (*head).dev = ManuallyDrop::new(Some(dev));
        b::ipsec_rs_aead_request_setup(req, tfm, Some(done::<C>), head.cast::<c_void>(), sg, cryptlen, iv, assoclen as u32);
        b::crypto_aead_decrypt(req)
    };
    if err == -(b::EINPROGRESS as i32) {
        // The completion may already be running elsewhere: `head` is not
        // ours any more. Counted here, not before the call, so that a
        // synchronous decryption (the common case) costs no count at all.
        inflight(1);
        return;
    }
    // Finished (or failed, -EBUSY included): the completion will not run.
    // SAFETY: `head` is initialised and owned by us again.
    let (ctx, skb, dev) = unsafe { finish(head, (*head).skb) };
    drop(dev);
    ctx.complete(skb, err, true);
}

/// Restores the ESN layout, frees the operation, and returns its context and packet.
///
/// # Safety
///
/// `head` is an initialised operation no one else uses, `skb` its packet.
unsafe fn finish<C>(head: *mut OpHead<C>, skb: *mut b::sk_buff) -> (C, OwnedSkb, Option<DevRef>) {
    // SAFETY: caller's contract: each field is moved out once.
    let (ctx, dev, saved, esn, size) = unsafe {
        (
            ManuallyDrop::into_inner(core::ptr::read(&(*head).ctx)),
            ManuallyDrop::into_inner(core::ptr::read(&(*head).dev)),
            (*head).saved,
            (*head).esn,
            (*head).size,
        )
    };
    if esn {
        // SAFETY: undoes the shuffle of `esp_decrypt` on the same linear bytes.
        unsafe {
            let p = super::skb::data_of(skb);
            core::ptr::copy(p, p.add(4), 4);
            core::ptr::copy_nonoverlapping(saved.as_ptr(), p, 4);
            b::ipsec_rs___skb_pull(skb, 4);
        }
    }
    // SAFETY: allocated by `ipsec_rs_req_alloc` with the size recorded in
    // the head (read before); freed once, with BH disabled (softirq or a
    // completion).
    unsafe { b::ipsec_rs_req_free(head.cast::<c_void>(), size) };
    // SAFETY: the operation owned the packet.
    let skb = unsafe { OwnedSkb::from_raw(skb) }.expect("operation without packet");
    (ctx, skb, dev)
}

/// The crypto layer's completion callback.
///
/// # Safety
///
/// Called by the crypto layer only, for a request `esp_decrypt` left pending.
unsafe extern "C" fn done<C: Completion>(data: *mut c_void, err: i32) {
    if err == -(b::EINPROGRESS as i32) {
        // A backlog notification (we never ask for backlogging): not the end.
        return;
    }
    let head = data.cast::<OpHead<C>>();
    // SAFETY: `data` is the operation `esp_decrypt` started and left
    // pending; the crypto layer completes it exactly once.
    let (ctx, skb, dev) = unsafe { finish(head, (*head).skb) };
    ctx.complete(skb, err, false);
    drop(dev);
    inflight(-1);
}
