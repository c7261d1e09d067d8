// SPDX-License-Identifier: GPL-2.0

//! AEAD requests from softirq: a transform borrowed from its owner, one
//! in-place decryption of an skb's data, synchronous or asynchronous, and
//! the request memory that must outlive an asynchronous request.
//!
//! Nothing here knows a protocol: the caller says where the IV is, how
//! many bytes are associated data and how many are ciphertext (with the
//! ICV), and the completion gets the packet back.
//!
//! A transform may be asynchronous (with AES-NI the AEAD is a SIMD wrapper
//! that defers to `cryptd` when the FPU is not usable):
//! `crypto_aead_decrypt()` then returns `-EINPROGRESS` and the completion
//! runs later, from `cryptd`'s worker with bottom halves disabled. The
//! request memory must therefore live until the completion: it is one
//! buffer per request (IV, request, scatterlist), freed on every path; a
//! per-CPU scratch area would be reused by the next request on that CPU
//! while an asynchronous one still owns it. The buffers come from a
//! [`RequestPool`]: GFP_ATOMIC, with one spare of the owner's chosen size
//! kept per CPU, so that a synchronous request, which frees on the CPU that
//! allocated, costs no trip through the slab allocator.
//!
//! No `CRYPTO_TFM_REQ_MAY_BACKLOG`: a full asynchronous queue fails the
//! request (`-EBUSY`). No `CRYPTO_TFM_REQ_MAY_SLEEP`: we run in softirq.

use super::{
    bindings as b,
    netdev::DevRef,
    percpu::{self, PerCpuCounters},
    skb::OwnedSkb,
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    mem::{size_of, ManuallyDrop},
    ptr::NonNull,
};
use kernel::prelude::*;

/// An AEAD transform borrowed from its owner (an XFRM state, say).
///
/// # Invariants
///
/// `tfm` is a live AEAD transform with its keys set, not freed for `'a`.
pub struct Aead<'a> {
    tfm: NonNull<b::crypto_aead>,
    _borrow: PhantomData<&'a ()>,
}

impl<'a> Aead<'a> {
    /// Borrows a transform.
    ///
    /// # Safety
    ///
    /// `tfm` must be a live AEAD transform with its keys set, not freed for `'a`.
    pub unsafe fn from_raw(tfm: NonNull<b::crypto_aead>) -> Aead<'a> {
        // INVARIANT: the caller's contract.
        Aead {
            tfm,
            _borrow: PhantomData,
        }
    }

    /// The name of the template this transform is an instance of
    /// (`"seqiv"` for `seqiv(rfc4106(gcm(aes)))`), `None` for an
    /// algorithm that is not a template instance (a driver's own).
    pub fn template_name(&self) -> Option<&'a [u8]> {
        // SAFETY: live transform (invariant); the name is the template's,
        // static in the template's module, which the transform pins.
        // An instance's algorithm has CRYPTO_ALG_INSTANCE among its flags,
        // and is a template's unless it was registered without one.
        let p = unsafe {
            let tfm = self.tfm.as_ptr();
            if b::ipsec_rs_crypto_aead_alg_flags(tfm) & b::IPSEC_RS_CRYPTO_ALG_INSTANCE == 0 {
                return None;
            }
            let tmpl = b::ipsec_rs_crypto_aead_instance_tmpl(tfm);
            if tmpl.is_null() {
                return None;
            }
            b::ipsec_rs_crypto_tmpl_name(tmpl)
        };
        // SAFETY: a NUL-terminated C string (CRYPTO_MAX_ALG_NAME at most),
        // alive as long as the transform (above).
        Some(unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes())
    }

    /// The child transform of an IV generator instance: the AEAD the
    /// generator hands decryption requests to once it has copied the
    /// explicit IV out (the crypto API's `aead_geniv_ctx`).
    ///
    /// # Safety
    ///
    /// `self` must be an instance of a template built on `aead_geniv_ctx`
    /// (`aead_geniv_alloc()`: seqiv, echainiv), which the caller checked by
    /// [`Aead::template_name`].
    pub unsafe fn geniv_child(&self) -> Option<Aead<'a>> {
        // SAFETY: the caller's contract: the context is an aead_geniv_ctx.
        let child = NonNull::new(unsafe { b::ipsec_rs_aead_geniv_ctx_child(self.tfm.as_ptr()) })?;
        // INVARIANT: the child lives as long as its parent (freed by the
        // parent's exit), keys set through the parent's setkey.
        Some(Aead {
            tfm: child,
            _borrow: PhantomData,
        })
    }

    /// The sizes a request needs and where its parts go, worked out once
    /// (they are fixed for the transform's life). `None` for a transform
    /// whose IV or request context must be aligned beyond [`BUF_ALIGN`]
    /// bytes, or whose request context is beyond [`MAX_REQSIZE`]: no
    /// transform we take (`esp_algs.rs`) comes near either.
    pub fn info(&self) -> Option<AeadInfo> {
        let tfm = self.tfm.as_ptr();
        // SAFETY: live transform; plain reads of its configuration.
        let (ivsize, authsize, alignmask, reqsize, ctx_align) = unsafe {
            (
                b::ipsec_rs_crypto_aead_ivsize(tfm) as usize,
                b::ipsec_rs_crypto_aead_authsize(tfm) as usize,
                b::ipsec_rs_crypto_aead_alignmask(tfm) as usize,
                b::ipsec_rs_crypto_aead_reqsize(tfm) as usize,
                b::ipsec_rs_crypto_tfm_ctx_alignment() as usize,
            )
        };
        let ctx_align = ctx_align
            .max(KMALLOC_MIN_ALIGN)
            .max(core::mem::align_of::<b::aead_request>());
        if alignmask >= BUF_ALIGN
            || !ctx_align.is_power_of_two()
            || ctx_align > BUF_ALIGN
            || reqsize > MAX_REQSIZE
            || ivsize > MAX_IVSIZE
        {
            return None;
        }
        // From the IV, which starts BUF_ALIGN-aligned (after the head):
        // the request aligned to the context alignment (a divisor of
        // BUF_ALIGN, so aligned in memory too), then the scatterlist.
        let req_at = align_up(ivsize, ctx_align);
        let sg_at = align_up(
            req_at + size_of::<b::aead_request>() + reqsize,
            core::mem::align_of::<b::scatterlist>(),
        );
        Some(AeadInfo {
            tfm: Tfm(self.tfm),
            ivsize,
            authsize,
            req_at,
            sg_at,
        })
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

/// An AEAD transform's sizes and request layout ([`Aead::info`]), and the
/// transform.
///
/// # Invariants
///
/// `req_at` and `sg_at` are the offsets, from the IV, of the request and
/// the scatterlist in a request buffer whose IV lies [`BUF_ALIGN`]-aligned
/// and `ivsize` bytes long: each aligned as its part needs, the request
/// followed by its context, all within `sg_at` bytes, which is less than
/// [`MAX_REQSIZE`] + 2 * [`BUF_ALIGN`] + the size of `aead_request`.
#[derive(Clone, Copy, Debug)]
pub struct AeadInfo {
    tfm: Tfm,
    /// IV length.
    pub ivsize: usize,
    /// ICV length.
    pub authsize: usize,
    req_at: usize,
    sg_at: usize,
}

impl AeadInfo {
    /// The transform these facts were read from, again, without asking
    /// its owner for it per request.
    ///
    /// # Safety
    ///
    /// The transform must still be alive for `'a` (for example: the caller
    /// holds a reference on the state that owns it).
    pub unsafe fn aead<'a>(&self) -> Aead<'a> {
        // INVARIANT: the caller's contract.
        Aead {
            tfm: self.tfm.0,
            _borrow: PhantomData,
        }
    }
}

/// What happens once a request finished: called exactly once, with the
/// packet and the result: 0, `-EBADMSG` (ICV mismatch), or another negative
/// errno. Softirq or BH disabled: `sync` says whether from within
/// [`decrypt_in_place`] (the request finished, or failed to start, before
/// it returned: the caller's context) or from the crypto layer's completion
/// of an asynchronous request.
pub trait Completion: Send + Sized + 'static {
    /// Continues with the decrypted (or rejected) packet.
    fn complete(self, skb: OwnedSkb, err: i32, sync: bool);
}

/// Where a request's input lies in the packet, from `data`: the
/// associated data first, then the ciphertext with the ICV at its end.
#[derive(Clone, Copy, Debug)]
pub struct InPlace {
    /// Scatterlist entries the data spans (`OwnedSkb::make_writable`).
    pub nfrags: usize,
    /// Offset of the IV (`AeadInfo::ivsize` bytes, linear), copied into
    /// the request before it starts.
    pub iv_at: usize,
    /// Associated data bytes at `data`.
    pub assoclen: usize,
    /// Ciphertext bytes after them, the ICV included.
    pub cryptlen: usize,
}

/// Request memory: one buffer per request in flight, with a spare of
/// `slot` bytes kept per CPU, and the count of asynchronous requests in
/// flight (per CPU; only the sum means anything: a request started on one
/// CPU may complete on another).
///
/// # Invariants
///
/// `spare` is a live per-CPU pointer slot, each CPU's either null or a
/// `kmalloc` buffer of `slot` bytes owned by the pool.
pub struct RequestPool {
    spare: NonNull<*mut c_void>,
    slot: usize,
    inflight: PerCpuCounters<1>,
}

// SAFETY: the per-CPU slots are only exchanged with `this_cpu_xchg` (each
// CPU its own, atomically with respect to interrupts) or, at drop, when no
// request can run; the counters are per-CPU.
unsafe impl Send for RequestPool {}
// SAFETY: as above.
unsafe impl Sync for RequestPool {}

/// What kmalloc aligns every allocation to, at least (ARCH_KMALLOC_MINALIGN
/// on x86-64 and arm64 is 8 or more).
const KMALLOC_MIN_ALIGN: usize = 8;

/// The alignment of every request buffer: each is a kmalloc allocation of a
/// power-of-two size of at least this many bytes, which kmalloc aligns to
/// its size (`include/linux/slab.h`: "for size of power of two bytes, the
/// alignment is also guaranteed to be at least to the size"). The request
/// layout ([`AeadInfo`]) is computed once against it, not per request from
/// the buffer's address.
pub const BUF_ALIGN: usize = 64;

/// The largest request context (`crypto_aead_reqsize`) of a transform we
/// lay requests out for ([`Aead::info`]); AES-GCM's are a few hundred bytes.
pub const MAX_REQSIZE: usize = 16384;

/// The largest IV likewise (AEADs' are 8 to 16 bytes).
pub const MAX_IVSIZE: usize = 64;

const fn align_up(v: usize, a: usize) -> usize {
    (v + a - 1) & !(a - 1)
}

impl RequestPool {
    /// A pool whose per-CPU spares hold `slot` bytes (requests up to that
    /// size are served from them): a power of two of at least
    /// [`BUF_ALIGN`], so that kmalloc aligns the spares to [`BUF_ALIGN`].
    /// Process context.
    pub fn new(slot: usize) -> Result<Self> {
        if !slot.is_power_of_two() || slot < BUF_ALIGN {
            return Err(EINVAL);
        }
        // SAFETY: plain allocation call; checked below.
        let spare = NonNull::new(unsafe { b::ipsec_rs_alloc_percpu_ptr() }).ok_or(ENOMEM)?;
        let inflight = match PerCpuCounters::new() {
            Ok(c) => c,
            Err(e) => {
                // SAFETY: allocated just above, holds no buffer yet.
                unsafe { b::free_percpu(spare.as_ptr().cast::<c_void>()) };
                return Err(e);
            }
        };
        // INVARIANT: a fresh, zeroed per-CPU slot: null on every CPU.
        Ok(Self {
            spare,
            slot,
            inflight,
        })
    }

    /// A buffer of at least `size` bytes, [`BUF_ALIGN`]-aligned (a
    /// power-of-two kmalloc size, see there); null if memory is short. BH
    /// disabled (softirq, or a completion).
    fn alloc(&self, size: usize) -> *mut u8 {
        if size > self.slot {
            let Some(size) = size.checked_next_power_of_two() else {
                return core::ptr::null_mut();
            };
            // SAFETY: GFP_ATOMIC allocation, any context.
            return unsafe { b::ipsec_rs_kmalloc_atomic(size) }.cast();
        }
        // SAFETY: the slot is live (invariant); this CPU's value is taken
        // and replaced by null, atomically with respect to interrupts.
        let p = unsafe { percpu::this_cpu_xchg_ptr(self.spare.as_ptr(), core::ptr::null_mut()) };
        if !p.is_null() {
            return p.cast();
        }
        // SAFETY: as above.
        unsafe { b::ipsec_rs_kmalloc_atomic(self.slot) }.cast()
    }

    /// Frees a buffer from [`RequestPool::alloc`] of the same `size`
    /// (keeps it as this CPU's spare if it is slot-sized and the CPU has
    /// none).
    ///
    /// # Safety
    ///
    /// `p` came from `self.alloc(size)` and is not used afterwards.
    unsafe fn free(&self, p: *mut u8, size: usize) {
        let mut p = p.cast::<c_void>();
        if size <= self.slot {
            // SAFETY: `p` is a slot-sized buffer of ours (caller): it
            // becomes this CPU's spare, and the previous spare (usually
            // none) is freed.
            p = unsafe { percpu::this_cpu_xchg_ptr(self.spare.as_ptr(), p) };
            if p.is_null() {
                return;
            }
        }
        // SAFETY: a kmalloc buffer no one uses.
        unsafe { b::kfree(p) };
    }

    fn count(&self, started: bool) {
        if started {
            self.inflight.add(0, 1);
        } else {
            self.inflight.sub(0, 1);
        }
    }

    /// Waits until no asynchronous request is pending, so that their
    /// completions (the owner's code) have all run. Process context, and
    /// only once no request can start any more (the callers that start
    /// them unregistered and a grace period over), so that every start
    /// that counted a +1 has returned: then only -1s change the counters
    /// while they are summed, and the sum cannot read zero while one is
    /// pending. (A completion may run on another CPU before its start
    /// counted the +1, making the sum briefly -1: never zero too early.)
    pub fn wait_idle(&self) {
        while self.inflight.sum(0) != 0 {
            // SAFETY: process context (caller).
            unsafe { b::msleep(1) };
        }
    }
}

impl Drop for RequestPool {
    /// Waits for pending requests ([`RequestPool::wait_idle`]: the owner
    /// drops the pool only once no request can start), then frees the spares.
    fn drop(&mut self) {
        self.wait_idle();
        let mut cpu = -1;
        loop {
            // SAFETY: walks the possible-CPU mask.
            let next = unsafe { b::ipsec_rs_next_possible_cpu(cpu) };
            // SAFETY: reads a constant of the running kernel.
            if next >= unsafe { b::ipsec_rs_nr_cpu_ids() } {
                break;
            }
            cpu = next as i32;
            // SAFETY: no request runs any more; each spare is taken once.
            unsafe { b::kfree(b::ipsec_rs_pcpu_take_ptr(self.spare.as_ptr(), cpu)) };
        }
        // SAFETY: allocated in `new`, every CPU's buffer freed above.
        unsafe { b::free_percpu(self.spare.as_ptr().cast::<c_void>()) };
    }
}

/// Head of the per-request allocation; IV, request and scatterlist follow.
#[repr(C)]
struct OpHead<C> {
    skb: *mut b::sk_buff,
    ctx: ManuallyDrop<C>,
    /// The receiving device, held while the request is pending.
    dev: ManuallyDrop<Option<DevRef>>,
    pool: *const RequestPool,
    /// The size the allocation was asked for (`RequestPool::free` needs it).
    size: usize,
}

/// Decrypts and authenticates, in place, the data of `skb` laid out as
/// `at` says. `info` is `aead`'s ([`Aead::info`]). The caller made the data
/// writable and checked that the packet holds the associated data, the
/// ciphertext and the ICV, and that the IV lies in the linear area. Always
/// ends in `ctx.complete`: before returning (`sync`) if the request
/// finished or could not start, else from the crypto layer's completion.
///
/// # Safety
///
/// `aead` must stay alive until `ctx` is dropped (for example: `ctx` holds
/// a reference on its owner), and `pool` must not move or be dropped before
/// the completion ran (its owner drops it, which waits for pending
/// requests, only once no caller can start one).
pub unsafe fn decrypt_in_place<C: Completion>(
    pool: &RequestPool,
    aead: Aead<'_>,
    info: &AeadInfo,
    mut skb: OwnedSkb,
    at: InPlace,
    ctx: C,
) {
    let (Ok(assoclen), Ok(cryptlen)) = (u32::try_from(at.assoclen), u32::try_from(at.cryptlen))
    else {
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    let Some(wire_iv) = skb.linear(at.iv_at, info.ivsize) else {
        return ctx.complete(skb, -(b::EINVAL as i32), true);
    };
    let op = match Op::<C>::alloc(pool, info, at.nfrags) {
        Ok(op) => op,
        Err(e) => return ctx.complete(skb, e, true),
    };
    // SAFETY: `op` was just allocated for this request; the IV is the
    // packet's linear bytes, disjoint from it.
    let head = unsafe {
        op.set_iv(wire_iv);
        op.init_head(pool, ctx)
    };
    // SAFETY: `sg` has room for `nfrags` entries; the skb is ours, its data
    // writable in place, and spans `nfrags` segments at most.
    let n = unsafe { skb.to_sg(op.sg, at.nfrags) };
    if n < 0 {
        // SAFETY: `head` was initialised above and is taken back once.
        let (ctx, skb, _dev) = unsafe { finish(head, skb.into_raw()) };
        return ctx.complete(skb, n, true);
    }
    skb.set_csum_none();
    let dev = skb.hold_dev();
    // SAFETY: the request lives in our allocation with `reqsize` bytes of
    // context behind it; IV buffer of `ivlen` bytes; the skb (now owned by
    // the request) stays alive until `finish`; `tfm` outlives `ctx` (the
    // caller's contract), which the request owns until it completes.
    let err = unsafe {
        (*head).skb = skb.into_raw();
        (*head).dev = ManuallyDrop::new(Some(dev));
        op.start(aead.tfm.as_ptr(), cryptlen, assoclen)
    };
    if err == -(b::EINPROGRESS as i32) {
        // The completion may already be running elsewhere: `head` is not
        // ours any more. Counted here, not before the call, so that a
        // synchronous request (the common case) costs no count at all.
        pool.count(true);
        return;
    }
    // Finished (or failed, -EBUSY included): the completion will not run.
    // SAFETY: `head` is initialised and owned by us again.
    let (ctx, skb, dev) = unsafe { finish(head, (*head).skb) };
    drop(dev);
    ctx.complete(skb, err, true);
}

/// One decryption's buffer, from the pool: the head ([`OpHead`]) at its
/// start, then, BUF_ALIGN-aligned, the IV, request and scatterlist, where
/// [`AeadInfo`] laid them out for the transform (one GFP_ATOMIC
/// allocation, as esp4's).
///
/// # Invariants
///
/// `head` is the start of a live, BUF_ALIGN-aligned pool allocation of
/// `AeadInfo::sg_at + head_len + nfrags` scatterlist entries' bytes, in
/// which `iv`, `req` and `sg` point where the layout puts them.
struct Op<C: Completion> {
    head: *mut OpHead<C>,
    iv: *mut u8,
    ivlen: usize,
    req: *mut b::aead_request,
    sg: *mut b::scatterlist,
    size: usize,
}

impl<C: Completion> Op<C> {
    /// The buffer of a request over `nfrags` segments; an errno if it
    /// cannot be had.
    #[inline(always)]
    fn alloc(pool: &RequestPool, info: &AeadInfo, nfrags: usize) -> Result<Self, i32> {
        const { assert!(core::mem::align_of::<OpHead<C>>() <= BUF_ALIGN) };
        let head_len = const { align_up(size_of::<OpHead<C>>(), BUF_ALIGN) };
        let total = nfrags
            .checked_mul(size_of::<b::scatterlist>())
            .and_then(|n| n.checked_add(head_len + info.sg_at))
            .ok_or(-(b::EINVAL as i32))?;
        let base = pool.alloc(total);
        if base.is_null() {
            return Err(-(b::ENOMEM as i32));
        }
        if base.addr() & (BUF_ALIGN - 1) != 0 {
            // Not what kmalloc promises for a power-of-two size: fail closed.
            // SAFETY: from `pool.alloc(total)`, unused.
            unsafe { pool.free(base, total) };
            return Err(-(b::ENOMEM as i32));
        }
        // SAFETY: all within the allocation: `head_len + sg_at + nfrags *
        // size_of::<scatterlist>() == total` (checked above; `head_len +
        // sg_at` is bounded by `AeadInfo`'s invariant).
        let iv = unsafe { base.add(head_len) };
        // INVARIANT: as laid out above, aligned (checked).
        Ok(Op {
            head: base.cast::<OpHead<C>>(),
            iv,
            ivlen: info.ivsize,
            // SAFETY: as above.
            req: unsafe { iv.add(info.req_at).cast::<b::aead_request>() },
            // SAFETY: as above.
            sg: unsafe { iv.add(info.sg_at).cast::<b::scatterlist>() },
            size: total,
        })
    }

    /// Copies the packet's IV into the buffer.
    ///
    /// # Safety
    ///
    /// `wire_iv` is `ivlen` bytes outside the buffer.
    #[inline(always)]
    unsafe fn set_iv(&self, wire_iv: &[u8]) {
        // SAFETY: `iv..iv + ivlen` lies within the allocation (`req_at >=
        // ivsize`, invariant); the source is disjoint (caller). The usual
        // sizes (8: GCM, CCM, ChaCha20-Poly1305; 16: CBC) as moves, not a
        // call.
        unsafe {
            match self.ivlen {
                8 => core::ptr::copy_nonoverlapping(wire_iv.as_ptr(), self.iv, 8),
                16 => core::ptr::copy_nonoverlapping(wire_iv.as_ptr(), self.iv, 16),
                n => core::ptr::copy_nonoverlapping(wire_iv.as_ptr(), self.iv, n),
            }
        }
    }

    /// Writes the head: `ctx`, and the pool the buffer goes back to.
    ///
    /// # Safety
    ///
    /// Once per buffer, before anything else reads the head.
    #[inline(always)]
    unsafe fn init_head(&self, pool: &RequestPool, ctx: C) -> *mut OpHead<C> {
        // SAFETY: the buffer holds the head at its start, aligned
        // (invariant: `head_len` is its size rounded up).
        unsafe {
            self.head.write(OpHead {
                skb: core::ptr::null_mut(),
                ctx: ManuallyDrop::new(ctx),
                dev: ManuallyDrop::new(None),
                pool,
                size: self.size,
            })
        };
        self.head
    }

    /// Starts the decryption in place of the scatterlist with transform
    /// `tfm`: `aead_request_set_tfm()`, `_set_callback(.., 0, ..)`,
    /// `_set_crypt()` and `_set_ad()`, as the kernel's inlines write them
    /// (6.12 to 7.3), without a call, then `crypto_aead_decrypt()`.
    ///
    /// # Safety
    ///
    /// The head is initialised and holds the skb the scatterlist maps;
    /// `tfm` is live until the completion ran.
    #[inline(always)]
    unsafe fn start(&self, tfm: *mut b::crypto_aead, cryptlen: u32, assoclen: u32) -> i32 {
        let req = self.req;
        // SAFETY: the request lies in the buffer with `reqsize` bytes of
        // context behind it (invariant); the caller's contract for the rest.
        unsafe {
            (*req).base.tfm = &raw mut (*tfm).base;
            (*req).base.complete = Some(done::<C>);
            (*req).base.data = self.head.cast::<c_void>();
            (*req).base.flags = 0;
            (*req).src = self.sg;
            (*req).dst = self.sg;
            (*req).cryptlen = cryptlen;
            (*req).iv = self.iv;
            (*req).assoclen = assoclen;
            b::crypto_aead_decrypt(req)
        }
    }
}

/// Frees the request, and returns its context, packet and held device.
///
/// # Safety
///
/// `head` is an initialised request no one else uses, `skb` its packet.
#[inline(always)]
unsafe fn finish<C>(head: *mut OpHead<C>, skb: *mut b::sk_buff) -> (C, OwnedSkb, Option<DevRef>) {
    // SAFETY: caller's contract: each field is moved out once.
    let (ctx, dev, pool, size) = unsafe {
        (
            ManuallyDrop::into_inner(core::ptr::read(&(*head).ctx)),
            ManuallyDrop::into_inner(core::ptr::read(&(*head).dev)),
            (*head).pool,
            (*head).size,
        )
    };
    // SAFETY: the pool outlives its requests (`decrypt_in_place`'s
    // contract); the buffer came from it with the size recorded in the
    // head (read before), and is freed once, with BH disabled.
    unsafe { (*pool).free(head.cast::<u8>(), size) };
    // SAFETY: the request owned the packet; `finish` is only called with
    // the (non-null) packet the request was started with.
    let skb = unsafe { OwnedSkb::from_raw_nonnull(NonNull::new_unchecked(skb)) };
    (ctx, skb, dev)
}

/// The crypto layer's completion callback.
///
/// # Safety
///
/// Called by the crypto layer only, for a request `decrypt_in_place` left pending.
unsafe extern "C" fn done<C: Completion>(data: *mut c_void, err: i32) {
    if err == -(b::EINPROGRESS as i32) {
        // A backlog notification (we never ask for backlogging): not the end.
        return;
    }
    let head = data.cast::<OpHead<C>>();
    // SAFETY: `data` is the request `decrypt_in_place` started and left
    // pending; the crypto layer completes it exactly once. The pool
    // outlives the request (contract), so it is read before the head is
    // freed and used after.
    let (pool, (ctx, skb, dev)) = unsafe { ((*head).pool, finish(head, (*head).skb)) };
    ctx.complete(skb, err, false);
    drop(dev);
    // SAFETY: as above; counted last, so that `wait_idle` returns only
    // once the completion's own code has run.
    unsafe { (*pool).count(false) };
}
