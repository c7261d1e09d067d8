// SPDX-License-Identifier: GPL-2.0

//! The inbound ESP data path: XFRM's SAs, our anti-replay window, the
//! kernel's AEAD, and the decapsulated packet handed back to the stack as
//! XFRM would hand it. This file runs the steps in order and counts every
//! drop; each step that is ESP itself has its own file: `esp_algs.rs`
//! (which SAs we take), `esp_decrypt.rs` (decryption set-up, ESN layout),
//! `esp_trailer.rs` (padding and next header), `decap.rs` (per mode).
//!
//! Entry: the ESP handler on XFRM's protocol chain (`rust::xfrm::Registration`,
//! priority [`PRIORITY`]), for locally delivered, reassembled ESP, plain or
//! UDP-encapsulated; the handler above vti (`vti.rs`) for the packets of
//! a vti tunnel's SAs ([`receive_vti`]); with the module parameter
//! `rx_gro=1` also the ESP GRO slots (`rust::gro::Slot`, `impl GroReceive
//! for Rx`), which take the tunnel-mode packets of our SAs before IP input
//! and decline the rest to the handler. For each packet, in this order:
//!
//! 0. Counted (`esp_v4`, `udp_encap_v6`, ...), whether or not our receive
//!    path is on: this handler is where the module sees locally delivered
//!    ESP once IPv4/IPv6 reassembled it and vti claimed its tunnels'.
//! 1. SA lookup (this CPU's last answer while it holds, `SaTable::last_hit`; else
//!    XFRM's SPI hash; a held reference). A miss is an
//!    invalid SPI (`invalid_spi.rs`): reported and dropped while detection
//!    is on, else left to XFRM. With the receive path off, the packet goes
//!    to XFRM here. SAs we do not handle (mode, algorithm, offload, XFRM
//!    interface, direction, encap type) are declined untouched: XFRM
//!    handles them (`passed_to_xfrm`).
//! 2. Without a lock: SA not handed back to XFRM and still valid (hints,
//!    decided again in step 5), anti-replay *check* (ESN high bits
//!    inferred; the core's window is checked lock-free, consistent under
//!    its sequence count).
//! 3. Decryption and ICV verification with the SA's transform, possibly
//!    asynchronous (`esp_decrypt.rs`); the rest runs in `RxOp::complete`.
//! 4. Trailer: padding length and contents, next header (`esp_trailer.rs`).
//! 5. Under the SA's lock, the only time a packet takes it: state valid,
//!    anti-replay *update* (re-checked: a duplicate may have won a race),
//!    lifetime check (`xfrm_state_check_expire`: soft/hard expiry and its
//!    key-manager events) and accounting (`ip -s xfrm state`). XFRM takes
//!    the lock twice, checking the lifetime before decryption and
//!    accounting after it, so packets in flight between the two can all
//!    pass a hard limit; here the check and the accounting are one step:
//!    a hard packet limit of N accepts exactly N packets, and a hard byte
//!    limit is passed by less than one packet (the last one accepted
//!    below it), as XFRM on one CPU. A packet of an SA that expired while
//!    it was decrypted is dropped after decryption (`sa_unusable`).
//! 6. Tunnel mode: outer headers removed, ECN/DSCP as XFRM does, security
//!    path with the SA attached (XFRM's inbound policy check accepts the
//!    packet), mark rewritten, conntrack and route dropped, and the inner
//!    packet re-enters the stack: received in place when the decryption
//!    finished within this handler and the device does not do GRO (where
//!    GRO cells would only queue it to the backlog), else through the
//!    module's GRO cells, as XFRM's own decapsulated packets go through
//!    xfrm_input's (`decap.rs`).
//!
//! Every drop is counted, in our counters and in XFRM's (`/proc/net/xfrm_stat`,
//! per-SA `ip -s xfrm state` statistics), as xfrm_input would count it.

use crate::{
    counters::bump,
    decap,
    esp::{self, EspHeader, ESP_HDR_LEN},
    esp_algs::{self, Alg},
    esp_decrypt,
    esp_headers::{self, count_esp, OuterHeader, Unreadable},
    esp_trailer, globals, invalid_spi,
    netns::PerNet,
    nl::{self, stats_attr as stat, SaHandler},
    replay::ReplayError,
    rust::{
        aead::Completion,
        bindings as b,
        gro::GroReceive,
        net::{Net, PernetState},
        netdev::Device,
        rcu::{RcuArc, ReadSide},
        skb::OwnedSkb,
        xfrm::{self, Input, Mib, Mode, StateRef, XfrmInput},
    },
    sa::{self, SaCtx},
    settings::{SaKey, Snapshot},
    tunnels,
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Our place on XFRM's ESP handler chain: after vti (100), which claims
/// the packets of its tunnels (the module's observer above vti, `vti.rs`,
/// reports their unknown SPIs); before XFRM interfaces (10) and esp4/esp6
/// (0).
pub(crate) const PRIORITY: i32 = 50;

const AF_INET: u16 = b::AF_INET as u16;
const AF_INET6: u16 = b::AF_INET6 as u16;
const EBADMSG: i32 = b::EBADMSG as i32;

/// The handler type registered on the chain.
pub(crate) struct Rx;

/// Whether the module decapsulates for SA `x` (of configuration `p`),
/// else why not: XFRM's SAs we leave to XFRM.
fn takes(x: &StateRef, p: &xfrm::Props) -> Result<(), SaHandler> {
    if p.offloaded {
        return Err(SaHandler::Offload);
    }
    // An XFRM interface's SA in tunnel mode: its inner packets arrive on
    // the interface (`tunnels.rs`); transport mode's are XFRM's.
    if p.if_id != 0 && p.mode != Mode::Tunnel {
        return Err(SaHandler::XfrmInterface);
    }
    if !(p.dir == 0 || p.dir == 1) {
        return Err(SaHandler::Direction);
    }
    if p.encap_type != 0 && p.encap_type != esp::UDP_ENCAP_ESPINUDP {
        return Err(SaHandler::Encap);
    }
    if !(p.mode == Mode::Tunnel
        || (p.mode == Mode::Transport && !(p.family == AF_INET6 && p.encap_type != 0)))
    {
        return Err(SaHandler::Mode);
    }
    if !p.has_tfm
        || Alg::of(&x.alg_names()).is_none()
        || esp_algs::decrypting_transform(x).is_none()
    {
        return Err(SaHandler::Algorithm);
    }
    Ok(())
}

/// One ESP SA of the namespace as the per-SA view shows it
/// (`SA_STATE_GET`): its identity, and the module's state if the module
/// decapsulates it, else who does and why. Process context.
pub(crate) fn sa_view(shared: &PerNet, x: &StateRef) -> nl::SaState {
    let p = x.props();
    let fam = esp::Family::from_af(p.family).unwrap_or(esp::Family::V4);
    let addr = |bytes: [u8; 16]| esp::IpAddr::of_family(fam, bytes);
    let mut alg = [0u8; nl::MAX_ALG_LEN];
    let mut alg_len = 0;
    let names = x.alg_names();
    for part in [names.aead, names.enc, names.auth].into_iter().flatten() {
        let sep = if alg_len == 0 { &b""[..] } else { &b"+"[..] };
        for &c in Iterator::chain(sep.iter(), part.iter()) {
            if let Some(slot) = alg.get_mut(alg_len) {
                *slot = c;
                alg_len += 1;
            }
        }
    }
    let ctx = shared.sa_table.find(x);
    let handler = match (&ctx, takes(x, &p)) {
        (Some(_), _) => SaHandler::Module,
        (None, Err(why)) => why,
        (None, Ok(())) if !x.lock_bh().valid() => SaHandler::Invalid,
        (None, Ok(())) if !shared.settings.global().rx_enable => SaHandler::RxOff,
        (None, Ok(())) => SaHandler::NotSeen,
    };
    nl::SaState {
        daddr: addr(x.daddr()),
        spi: x.spi(),
        saddr: addr(p.saddr),
        mode: match p.mode {
            Mode::Transport => nl::SaMode::Transport,
            Mode::Tunnel => nl::SaMode::Tunnel,
            Mode::Other => nl::SaMode::Other,
        },
        encap: p.encap_type,
        alg,
        alg_len,
        esn: p.flags & xfrm::FLAG_ESN != 0,
        handler,
        module: ctx.map(|c| c.state()),
    }
}

/// Drops a packet we own: our counter, XFRM's statistic.
fn drop_pkt(shared: &PerNet, tunnel: Option<&Device>, skb: OwnedSkb, counter: u16, mib: Mib) {
    drop_counted(shared, tunnel, skb, Some(counter), Some(mib));
}

/// Drops a packet we own, counted in our `counter` (`None`: counted
/// already), in XFRM's statistics under `mib` (`None`: XFRM counted it
/// already) and, for a vti tunnel's packet, in the tunnel's `rx_errors`
/// and `rx_dropped`, as `vti_rcv_cb()` counts xfrm_input's failures.
fn drop_counted(
    shared: &PerNet,
    tunnel: Option<&Device>,
    skb: OwnedSkb,
    counter: Option<u16>,
    mib: Option<Mib>,
) {
    if let Some(c) = counter {
        bump(&shared.counters, c);
    }
    if let Some(m) = mib {
        skb.net_ref().get().xfrm_inc(m);
    }
    if let Some(dev) = tunnel {
        dev.count_rx_error();
    }
    drop(skb);
}

/// A packet a vti or vti6 tunnel claimed (`vti.rs`), handed to the
/// receive path: the tunnel and its input key, the mark its SA is looked
/// up with.
#[derive(Clone, Copy)]
pub(crate) struct VtiRx<'a> {
    pub(crate) dev: &'a Device,
    pub(crate) ikey: u32,
}

/// The same across an asynchronous decryption: the tunnel by index,
/// looked up again (`tunnels::vti_device`).
#[derive(Clone, Copy)]
struct VtiRef {
    ifindex: i32,
    ikey: u32,
}

/// A replay-check failure: counted per SA (ours and XFRM's statistics),
/// logged rate-limited in the guide's words.
fn replay_failed(
    shared: &PerNet,
    ctx: &SaCtx,
    g: &mut xfrm::StateGuard<'_>,
    e: ReplayError,
    seq_lo: u32,
    spi: u32,
) -> u16 {
    let counter = match e {
        ReplayError::TooOld => {
            g.stat_replay_window();
            ctx.too_old.fetch_add(1, Ordering::Relaxed);
            stat::REPLAY_TOO_OLD
        }
        ReplayError::Replayed | ReplayError::SeqZero | ReplayError::SeqOverflow => {
            g.stat_replay();
            ctx.replayed.fetch_add(1, Ordering::Relaxed);
            stat::REPLAY_DROPPED
        }
    };
    let _ = shared;
    if let Some(unlogged) = ctx.log_allowed(crate::rust::now_ns()) {
        pr_warn!(
            "%CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed connection id={} (spi={:#x}, seq={}, {} more since last report)\n",
            ctx.conn_id.load(Ordering::Relaxed),
            spi,
            seq_lo,
            unlogged
        );
    }
    counter
}

impl XfrmInput for Rx {
    const PROTO: u8 = esp::IPPROTO_ESP;

    fn input(skb: OwnedSkb, family: u16, encap_type: i32, rs: ReadSide<'_>) -> Input {
        receive(skb, family, encap_type, rs, false, None)
    }
}

/// The packet of a vti or vti6 tunnel's SA, from the observer above vti on
/// XFRM's chain (`vti.rs`): taken as the tunnel's receive would take it
/// (`vti_input()`, `vti_rcv_cb()`), or declined to the tunnel.
pub(crate) fn receive_vti(
    skb: OwnedSkb,
    family: u16,
    encap_type: i32,
    rs: ReadSide<'_>,
    vti: VtiRx<'_>,
) -> Input {
    receive(skb, family, encap_type, rs, false, Some(vti))
}

/// ESP inside GRO (`rx_gro=1`): the packets of SAs we decapsulate in
/// tunnel mode, plain ESP, taken before IP input, as `esp4_offload` /
/// `esp6_offload` take XFRM's; everything else (unknown SPIs, transport
/// mode, SAs we leave to XFRM, the receive path off) is declined untouched
/// and uncounted, and comes back through [`XfrmInput::input`] after IP input.
impl GroReceive for Rx {
    const PROTO: u8 = esp::IPPROTO_ESP;

    fn receive(skb: OwnedSkb, family: u16, rs: ReadSide<'_>) -> Input {
        receive(skb, family, 0, rs, true, None)
    }
}

/// The steps above, for a packet from IP input (`gro == false`) or from
/// GRO (`gro == true`, see `impl GroReceive for Rx`). One body for both:
/// the GRO case only declines more, and counts only what it takes. Each
/// step is named for the section of RFC 4303 (3.4) it does, and ends the
/// packet's way here with a [`Stop`].
#[inline(always)]
fn receive(
    mut skb: OwnedSkb,
    family: u16,
    encap_type: i32,
    rs: ReadSide<'_>,
    gro: bool,
    vti: Option<VtiRx<'_>>,
) -> Input {
    let netr = skb.net_ref();
    let net = netr.get();
    let a = Arrival {
        shared: PerNet::get_rcu(net, &rs),
        net,
        rs,
        family,
        encap_type,
        gro,
        vti,
    };
    let mut o = OuterHeader::EMPTY;
    let h = match a.read_headers(&mut skb, &mut o) {
        Ok(h) => h,
        Err(s) => return a.stop(skb, s),
    };
    let ctx = match a.lookup_sa(&skb, h, &o) {
        Ok(c) => c,
        Err(s) => return a.stop(skb, s),
    };
    if let Err(s) = a.admit(&mut skb, &ctx, h) {
        return a.stop(skb, s);
    }
    let seq = match a.verify_sequence(&ctx, h) {
        Ok(seq) => seq,
        Err(s) => return a.stop(skb, s),
    };
    match a.decrypt(skb, ctx, seq, o.tos) {
        Ok(()) => Input::Consumed,
        Err((skb, s)) => a.stop(skb, s),
    }
}

/// A packet on its way through [`receive`]: where it arrived and how.
struct Arrival<'a> {
    shared: &'a PerNet,
    net: &'a Net,
    rs: ReadSide<'a>,
    family: u16,
    encap_type: i32,
    /// From GRO, before IP input (declined packets come back after it).
    gro: bool,
    /// A vti tunnel's packet, and the tunnel.
    vti: Option<VtiRx<'a>>,
}

/// How a step of [`receive`] ends the packet's way through it.
enum Stop {
    /// Not ours: on to the next handler (XFRM) untouched, the counter
    /// bumped first, unless from GRO (counted when it comes back).
    Decline(Option<u16>),
    /// Dropped after its SA was found: counted in ours, in XFRM's
    /// statistics and, for a vti's SA, in the tunnel's errors.
    Drop(u16, Mib),
    /// An unknown SPI, reported: counted as XFRM counts one
    /// (XfrmInNoStates; for a vti's packet, in the tunnel's errors too).
    Unknown,
    /// Refused by XFRM's inbound policy check of a vti's outer packet
    /// (XFRM counted it; the tunnel does not).
    Refused,
}

impl Arrival<'_> {
    /// Ends the packet's way through the receive path as `s` says.
    fn stop(&self, skb: OwnedSkb, s: Stop) -> Input {
        let tunnel = self.vti.map(|v| v.dev);
        match s {
            Stop::Decline(counter) => {
                if let (Some(c), false) = (counter, self.gro) {
                    bump(&self.shared.counters, c);
                }
                return Input::Decline(skb);
            }
            Stop::Drop(counter, mib) => drop_pkt(self.shared, tunnel, skb, counter, mib),
            Stop::Unknown => drop_counted(self.shared, tunnel, skb, None, Some(Mib::InNoStates)),
            Stop::Refused => drop_counted(self.shared, None, skb, Some(stat::POLICY_DROPPED), None),
        }
        Input::Consumed
    }

    /// 3.4.1: what IP reassembled and delivered, or GRO holds: the ESP
    /// and outer headers read (the packet counted as seen, unless from
    /// GRO), of the UDP encapsulation the module knows.
    #[inline(always)]
    fn read_headers(&self, skb: &mut OwnedSkb, o: &mut OuterHeader) -> Result<EspHeader, Stop> {
        let udp = self.encap_type != 0;
        if udp && self.encap_type != i32::from(esp::UDP_ENCAP_ESPINUDP) {
            return Err(Stop::Decline(None));
        }
        let r = esp_headers::read(skb, self.family, udp, o);
        if r == Err(Unreadable::Outer) || (self.gro && o.refused_by_ip_input(self.family)) {
            // An outer header this path does not read, or (from GRO,
            // before IP input) one IP input refuses: IP input and XFRM
            // judge it.
            return Err(Stop::Decline(None));
        }
        if !self.gro {
            count_esp(self.shared, self.family, udp, r.as_ref().ok());
        }
        // Seen, and malformed: shorter than an ESP header (XFRM drops it,
        // XfrmInHdrError) or SPI 0 (XFRM finds no SA for it either).
        r.map_err(|_| Stop::Decline(Some(stat::MALFORMED)))
    }

    /// 3.4.2: the SA xfrm_input would find: this CPU's last answer if it
    /// still holds (`SaTable::last_hit`), else through XFRM's SPI hash (not its
    /// per-CPU list, whose cost grows with the SAs in use: see
    /// `xfrm::lookup`), with the entry the module keeps for it. A miss is
    /// an invalid SPI, reported while detection is on.
    #[inline(always)]
    fn lookup_sa(
        &self,
        skb: &OwnedSkb,
        h: EspHeader,
        o: &OuterHeader,
    ) -> Result<RcuArc<SaCtx>, Stop> {
        let (shared, net, family) = (self.shared, self.net, self.family);
        let cfg = shared.settings.read(self.rs);
        let (rx_on, detect) = (cfg.rx_enabled(), cfg.invalid_spi_enabled());
        if !rx_on && !detect {
            return Err(Stop::Decline(None));
        }
        // A vti's SA: the tunnel's input key as the mark, as xfrm_input
        // takes it.
        let mark = self.vti.map_or_else(|| skb.view().mark(), |v| v.ikey);
        let key = sa::LastKey::new(h.spi, mark, family, &o.daddr);
        if rx_on {
            if let Some(c) = shared.sa_table.last_hit(self.rs, net, &key) {
                return Ok(c);
            }
        }
        let gens = shared.sa_table.gens(net);
        let Some(x) = xfrm::lookup(net, mark, &o.daddr, h.spi, esp::IPPROTO_ESP, family) else {
            if !detect || self.gro {
                return Err(Stop::Decline(None));
            }
            // `read_headers` accepted the family, so the packet describes.
            if let Some(p) = o.esp_packet(family, h, self.encap_type != 0) {
                invalid_spi::report_miss(net, skb.view().ifindex(), &p, shared);
            }
            return Err(Stop::Unknown);
        };
        if !rx_on {
            return Err(Stop::Decline(None));
        }
        let ctx = match shared.sa_table.find(&x) {
            Some(c) => c,
            None => new_entry(shared, cfg, &x, family, self.encap_type).map_err(|counted| {
                if !self.gro {
                    counted.iter().for_each(|c| bump(&shared.counters, *c));
                }
                Stop::Decline(None)
            })?,
        };
        shared.sa_table.remember(&ctx, &key, &gens);
        // The entry holds its own reference on the SA (`x`'s is dropped).
        Ok(ctx)
    }

    /// The SA's own packets, of a kind the module takes (the rest is
    /// XFRM's), and long enough to hold an ESP packet of the SA: from here
    /// the packet is ours.
    #[inline(always)]
    fn admit(&self, skb: &mut OwnedSkb, ctx: &SaCtx, h: EspHeader) -> Result<(), Stop> {
        let f = &ctx.facts;
        let passed = Stop::Decline(Some(stat::PASSED_TO_XFRM));
        if f.family != self.family || i32::from(f.encap_type) != self.encap_type {
            // Arriving another way (plain ESP for a UDP-encapsulated SA,
            // ...): XFRM's checks decide.
            return Err(passed);
        }
        if f.if_id != 0 && tunnels::xfrm_if(self.shared, self.rs, self.net, f.if_id).is_none() {
            // No interface of ours to receive on (down, collect-metadata,
            // serving another namespace, or none): XFRM's interface
            // lookup decides what becomes of it.
            return Err(passed);
        }
        if self.vti.is_some() && f.mode != Mode::Tunnel {
            // A vti's transport-mode SA (which vti cannot send with).
            return Err(passed);
        }
        if self.gro {
            // Tunnel mode only: its inner packet goes to the GRO cells, as
            // xfrm_input's from GRO; transport mode's `transport_finish`
            // would run the stack's input from inside GRO.
            if f.mode != Mode::Tunnel {
                return Err(Stop::Decline(None));
            }
            count_esp(self.shared, self.family, false, Some(&h));
            bump(&self.shared.counters, stat::ESP_GRO);
        }
        if self.vti.is_some() && !skb.policy_check_in(self.family) {
            // `vti_input()`'s check of the outer packet, before xfrm_input.
            return Err(Stop::Refused);
        }
        let (ivlen, alen) = (f.aead.ivsize, f.aead.authsize);
        let len = skb.view().len() as usize;
        if len < ESP_HDR_LEN + ivlen + alen + 2 || !skb.may_pull(ESP_HDR_LEN + ivlen) {
            ctx.malformed.fetch_add(1, Ordering::Relaxed);
            return Err(Stop::Drop(stat::MALFORMED, Mib::InHdrError));
        }
        Ok(())
    }

    /// 3.4.3: the SA still the module's and valid, and the sequence number
    /// inside the anti-replay window (ESN high bits inferred), checked
    /// without the SA's lock: the window is updated after the ICV is
    /// verified (`RxOp::complete`). The full sequence number.
    #[inline(always)]
    fn verify_sequence(&self, ctx: &SaCtx, h: EspHeader) -> Result<u64, Stop> {
        if ctx.handed_back() {
            // Handed back to XFRM meanwhile: XFRM's state is current.
            return Err(Stop::Decline(None));
        }
        let x = ctx.xfrm_state();
        if !x.is_valid() {
            return Err(Stop::Drop(stat::SA_UNUSABLE, Mib::InStateInvalid));
        }
        ctx.window().check(h.seq).map_err(|e| {
            // A drop: the lock only to count it in XFRM's statistics.
            let c = replay_failed(self.shared, ctx, &mut x.lock(), e, h.seq, h.spi);
            Stop::Drop(c, Mib::InStateSeqError)
        })
    }

    /// 3.4.4: ICV verification and decryption with the SA's transform,
    /// in place, possibly asynchronous (`esp_decrypt.rs`); the steps after
    /// it run in [`RxOp::complete`]. The packet back if it could not start.
    #[inline(always)]
    fn decrypt(
        &self,
        mut skb: OwnedSkb,
        ctx: RcuArc<SaCtx>,
        seq: u64,
        tos: u8,
    ) -> Result<(), (OwnedSkb, Stop)> {
        let rx_error = Stop::Drop(stat::RX_ERRORS, Mib::InError);
        let nfrags = match skb.make_writable() {
            Ok(n) => n,
            Err(_) => return Err((skb, rx_error)),
        };
        let hdr_len = transport_header_len(&skb, ctx.facts.mode, self.family);
        let Some(path) = globals::get() else {
            return Err((skb, rx_error));
        };
        let info = ctx.facts.aead;
        // SAFETY: read from the SA's transform when the entry was made;
        // the entry (`ctx`, which the operation holds) keeps a reference on
        // the SA, whose `x->data` owns the transform until it is destroyed.
        let aead = unsafe { info.aead() };
        let esn_hi = (ctx.facts.flags & xfrm::FLAG_ESN != 0).then_some((seq >> 32) as u32);
        let op = RxOp {
            ctx,
            seq,
            tos,
            hdr_len,
            vti: self.vti.map(|v| VtiRef {
                ifindex: v.dev.ifindex(),
                ikey: v.ikey,
            }),
        };
        // SAFETY: `aead` lives as long as `op` (above); the pool is
        // withdrawn only after every pending decryption completed
        // (`globals::Published`).
        unsafe { esp_decrypt::decrypt(&path.pool, aead, &info, skb, nfrags, esn_hi, op) };
        Ok(())
    }
}

/// Transport mode: the IP header to keep (IPv4: with its options; IPv6:
/// with the extension headers before ESP); 0 in tunnel mode. Beyond 16
/// bits (impossible in a linear head), restoring it fails and the packet
/// is dropped and counted.
#[inline(always)]
fn transport_header_len(skb: &OwnedSkb, mode: Mode, family: u16) -> u16 {
    match (mode, family) {
        (Mode::Tunnel, _) => 0,
        (_, AF_INET) => skb
            .network_header_bytes(1)
            .and_then(|h| h.first().map(|v| u16::from(v & 0xf) * 4))
            .unwrap_or(0),
        _ => u16::try_from(skb.network_to_data()).unwrap_or(u16::MAX),
    }
}

/// Makes the entry of an SA seen for the first time, if we decapsulate
/// for it; otherwise the counters to bump (the packet goes to XFRM).
fn new_entry(
    shared: &PerNet,
    cfg: &Snapshot,
    x: &StateRef,
    family: u16,
    encap_type: i32,
) -> Result<RcuArc<SaCtx>, &'static [u16]> {
    let p = x.props();
    // Arriving the SA's own way (family, encapsulation), and an SA we take.
    if p.family != family || i32::from(p.encap_type) != encap_type || takes(x, &p).is_err() {
        return Err(&[stat::PASSED_TO_XFRM]);
    }
    let Some(aead) = esp_algs::decrypting_transform(x) else {
        return Err(&[stat::PASSED_TO_XFRM]);
    };
    let facts = sa::Facts {
        mode: p.mode,
        family: p.family,
        encap_type: p.encap_type,
        flags: p.flags,
        saddr: p.saddr,
        aead,
        if_id: p.if_id,
    };
    // Its own setting (`ipsec-rs set sa`), else the global one.
    let mode = || {
        cfg.sa_replay(&SaKey::of_state(x)).unwrap_or_else(|| {
            let g = cfg.global();
            sa::mode_for(g.replay_window, g.replay_disabled, p.xfrm_replay_window)
        })
    };
    match sa::get_or_insert(
        &shared.sa_table,
        x,
        facts,
        mode,
        p.flags & xfrm::FLAG_ESN != 0,
    ) {
        Ok(c) => Ok(c),
        Err(sa::NoEntry::Closed) => Err(&[]),
        // Never handled by us: XFRM's own state stays authoritative.
        Err(sa::NoEntry::Resources) => Err(&[stat::PASSED_TO_XFRM, stat::SA_NO_MEMORY]),
    }
}

/// A packet between the replay check and delivery (crosses an async
/// decryption): what the steps after decryption need that the packet does
/// not keep (its outer header is still in front of `data` then: NAT
/// traversal reads its addresses and ports there). Small on purpose: it is
/// moved into the request and out again.
struct RxOp {
    /// The SA's entry (which holds a reference on the SA).
    ctx: RcuArc<SaCtx>,
    /// The full sequence number (its low 32 bits are the wire's).
    seq: u64,
    /// The outer TOS / traffic class.
    tos: u8,
    /// Transport mode: the IP header's length to keep.
    hdr_len: u16,
    /// A vti tunnel's SA: the tunnel.
    vti: Option<VtiRef>,
}

impl Completion for RxOp {
    /// The steps after decryption, in RFC 4303's order (3.4.4 on),
    /// dropping the packet at the first that fails. `sync`: completing
    /// inside the ESP handler (the decryption was synchronous), still in
    /// the receive path: the inner packet may be received in place
    /// (`Delivery::deliver`).
    fn complete(self, mut skb: OwnedSkb, err: i32, sync: bool) {
        let netr = skb.net_ref();
        // SAFETY: the receive path (softirq) or a crypto completion, which
        // runs with bottom halves disabled (`Completion`): an RCU read-side
        // section for as long as this call.
        let rs = unsafe { ReadSide::assume() };
        let shared = PerNet::get_rcu(netr.get(), &rs);
        // A vti's SA: its tunnel, if still there (see `deliver`).
        let via_vti = self
            .vti
            .and_then(|v| Some((tunnels::vti_device(shared, rs, v.ifindex)?, v.ikey)));
        let checked = self
            .icv_verified(err)
            .and_then(|()| self.strip_trailer(&mut skb))
            .and_then(|nexthdr| self.not_dummy(nexthdr))
            .and_then(|nexthdr| self.update_sa(shared, &skb).map(|()| nexthdr))
            .and_then(|nexthdr| self.inner(nexthdr));
        match checked {
            Ok(inner) => self.deliver(shared, rs, skb, inner, via_vti, sync),
            Err((counter, mib)) => drop_pkt(shared, via_vti.map(|v| v.0), skb, counter, mib),
        }
    }
}

/// Why a step after decryption drops the packet: our counter, XFRM's
/// statistic.
type Dropped = (u16, Mib);

impl RxOp {
    /// 3.4.4.1: the decryption's verdict on the ICV (`err`: 0, or the
    /// transform's error).
    #[inline(always)]
    fn icv_verified(&self, err: i32) -> Result<(), Dropped> {
        match err {
            0 => Ok(()),
            e if e == -EBADMSG => {
                self.ctx.xfrm_state().lock().stat_integrity_failed();
                self.ctx.auth_failed.fetch_add(1, Ordering::Relaxed);
                Err((stat::AUTH_FAILED, Mib::InStateProtoError))
            }
            _ => Err((stat::RX_ERRORS, Mib::InStateProtoError)),
        }
    }

    /// 3.4.4.2: the padding checked and the trailer, ICV, ESP header and IV
    /// taken off (`esp_trailer.rs`); the next header.
    #[inline(always)]
    fn strip_trailer(&self, skb: &mut OwnedSkb) -> Result<u8, Dropped> {
        let (ivlen, alen) = (self.ctx.facts.aead.ivsize, self.ctx.facts.aead.authsize);
        esp_trailer::strip(skb, ivlen, alen).map_err(|e| match e {
            esp_trailer::Bad::Malformed => {
                self.ctx.malformed.fetch_add(1, Ordering::Relaxed);
                (stat::MALFORMED, Mib::InStateProtoError)
            }
            esp_trailer::Bad::Padding => {
                self.ctx.bad_padding.fetch_add(1, Ordering::Relaxed);
                (stat::BAD_PADDING, Mib::InStateProtoError)
            }
            esp_trailer::Bad::Strip => (stat::RX_ERRORS, Mib::InBufferError),
        })
    }

    /// RFC 4303 2.6: a dummy packet (next header 59) is dropped here, before
    /// the window moves, as esp4/esp6 drop it (their input returns an
    /// error, which xfrm_input counts in XfrmInStateProtoError before its
    /// replay advance): its sequence number stays free for a real packet.
    #[inline(always)]
    fn not_dummy(&self, nexthdr: u8) -> Result<u8, Dropped> {
        if u32::from(nexthdr) == b::IPPROTO_NONE {
            self.ctx.malformed.fetch_add(1, Ordering::Relaxed);
            return Err((stat::BAD_INNER, Mib::InStateProtoError));
        }
        Ok(nexthdr)
    }

    /// 3.4.3's window update, once the packet is authenticated, with the
    /// SA's state and lifetime checked and the packet accounted: the
    /// packet's one critical section (step 5 above).
    #[inline(always)]
    fn update_sa(&self, shared: &PerNet, skb: &OwnedSkb) -> Result<(), Dropped> {
        let x = self.ctx.xfrm_state();
        let mut g = x.lock();
        if !g.valid() {
            // Deleted or expired while we decrypted (XFRM checks again
            // after decryption too).
            return Err((stat::SA_UNUSABLE, Mib::InStateInvalid));
        }
        if let Err(e) = self.ctx.replay_update(&mut g, self.seq) {
            let c = replay_failed(shared, &self.ctx, &mut g, e, self.seq as u32, x.spi());
            return Err((c, Mib::InStateSeqError));
        }
        // The lifetime checked and accounted in one step: a hard limit
        // cannot be passed by packets in flight.
        if g.check_expire() {
            return Err((stat::SA_UNUSABLE, Mib::InStateExpired));
        }
        if self.ctx.retired(&g) {
            // XFRM took the SA over while we decrypted: keep its replay
            // state ahead of what we accept.
            g.xfrm_replay_raise(self.seq);
        }
        g.account(skb.view().len(), xfrm::real_seconds());
        Ok(())
    }

    /// What the payload is, for the SA's mode: not a dummy packet (RFC
    /// 4303 2.6), and IP in a tunnel.
    #[inline(always)]
    fn inner(&self, nexthdr: u8) -> Result<decap::Inner, Dropped> {
        decap::Inner::of(self.ctx.facts.mode, nexthdr).ok_or_else(|| {
            self.ctx.malformed.fetch_add(1, Ordering::Relaxed);
            (stat::BAD_INNER, Mib::InStateModeError)
        })
    }

    /// Decapsulation and delivery (step 6 above, `decap.rs`), counted.
    #[inline(always)]
    fn deliver(
        self,
        shared: &PerNet,
        rs: ReadSide<'_>,
        skb: OwnedSkb,
        inner: decap::Inner,
        via_vti: Option<(&Device, u32)>,
        sync: bool,
    ) {
        let tunnel = via_vti.map(|(dev, _)| dev);
        if self.ctx.facts.encap_type != 0 {
            self.nat_mapping(&skb);
        }
        let Some(path) = globals::get() else {
            drop_pkt(shared, tunnel, skb, stat::RX_ERRORS, Mib::InError);
            return;
        };
        if self.vti.is_some() && via_vti.is_none() {
            // The tunnel went away during decryption: nowhere to deliver.
            drop_pkt(shared, None, skb, stat::RX_ERRORS, Mib::InError);
            return;
        }
        let RxOp {
            ctx, tos, hdr_len, ..
        } = self;
        let f = &ctx.facts;
        // An XFRM interface's SA: the interface the packet arrives on,
        // looked up again (the one found before decryption may have gone
        // down meanwhile; then the packet is handed on as XFRM hands it
        // when its interface lookup fails).
        let dev = (f.if_id != 0)
            .then(|| tunnels::xfrm_if(shared, rs, skb.net_ref().get(), f.if_id))
            .flatten();
        let params = decap::Params {
            flags: f.flags,
            tos,
            family: f.family,
            udp: f.encap_type != 0,
            hdr_len,
            dev,
            vti: via_vti,
        };
        // A reference of the packet's own for its security path.
        let x = ctx.xfrm_state().clone();
        match decap::decapsulate(&path.delivery, skb, x, inner, &params, sync) {
            Ok(delivered) => {
                ctx.decap_ok.fetch_add(1, Ordering::Relaxed);
                ctx.last_jiffies
                    .store(crate::rust::jiffies(), Ordering::Relaxed);
                bump(&shared.counters, stat::DECAP_OK);
                if !delivered {
                    bump(&shared.counters, stat::REENTRY_DROPPED);
                }
            }
            Err(f) => drop_counted(shared, tunnel, f.skb, Some(f.counter), f.mib),
        }
    }

    /// NAT traversal (a UDP-encapsulated SA): an authenticated packet from
    /// a new address or port tells the key manager, as esp4/esp6 do. The
    /// address and port are read from the outer headers, still in front of
    /// the payload (as the receive path read them: they passed there).
    fn nat_mapping(&self, skb: &OwnedSkb) {
        let f = &self.ctx.facts;
        let Some(o) = skb
            .network_header_bytes(48)
            .and_then(|h| OuterHeader::parse(h, f.family, true))
        else {
            return;
        };
        let x = self.ctx.xfrm_state();
        if o.sport_be != 0 && (o.saddr != f.saddr || o.sport_be != x.encap_sport_be()) {
            x.new_mapping(&o.saddr, o.sport_be);
        }
    }
}

/// Warns when the kernel's ESP GRO handlers are registered (`esp4_offload`,
/// `esp6_offload`; the module's own, with `rx_gro=1`, are not theirs): on
/// a device doing GRO they decapsulate the packets of every SA XFRM knows
/// inside GRO, before IP input, so this receive path never sees them
/// (unknown SPIs still reach it). Called when the receive path is switched
/// on; a handler registered later is not noticed here (the per-SA view
/// shows its SAs as not seen).
pub(crate) fn warn_if_gro_offload() {
    let (v4, v6) = crate::rust::gro::foreign_registered(esp::IPPROTO_ESP);
    if v4 || v6 {
        let which = match (v4, v6) {
            (true, true) => "esp4_offload and esp6_offload are",
            (true, false) => "esp4_offload is",
            _ => "esp6_offload is",
        };
        pr_warn!(
            "{which} loaded: on devices with GRO on, XFRM decapsulates ESP of known SAs inside GRO, before the receive path of ipsec_rs (unload it, or ethtool -K DEV gro off)\n"
        );
    }
}
