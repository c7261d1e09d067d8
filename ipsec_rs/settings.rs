// SPDX-License-Identifier: GPL-2.0

//! Settings of one namespace at the three scopes: per SA (keyed like XFRM:
//! family, destination address, SPI, protocol), per egress interface, and
//! global; the packet paths read them without locks.
//!
//! Storage: one immutable [`Snapshot`] (sorted arrays, binary search) behind
//! an [`RcuBox`]. Readers (hooks in softirq, or netlink under an
//! `RcuGuard`) take no lock. A writer builds a complete new snapshot in
//! process context (GFP_KERNEL), publishes it and frees the old one after a
//! grace period. Writers are serialised by the namespace's `config` mutex:
//! every writing method takes the locked configuration as `&mut GlobalConfig`.
//!
//! Bounds: at most [`MAX_SA_OVERRIDES`] SA entries and [`MAX_IF_OVERRIDES`]
//! interface entries per namespace (about 40 and 12 bytes each); more is
//! refused with `ENOSPC`. An SA or interface without any override has no
//! entry (setting nothing removes the entry).
//!
//! Stale entries: an entry is created only for an SA that exists in XFRM.
//! Entries whose SA has since been deleted are pruned on every `SA_SET` and
//! `SA_GET` (one XFRM lookup per entry, process context), and interface
//! entries whose device is gone on every `IF_SET` and `IF_GET`; the caps
//! bound what can accumulate in between. Until it is pruned, an entry
//! applies to a new SA with the same destination, SPI and protocol.

use crate::{
    esp::{Family, IpAddr},
    frag::{self, FragSettings, Resolved},
    kapi::{
        self,
        net::Net,
        rcu::{RcuBox, RcuGuard, ReadSide},
        xfrm,
    },
    nl::{GlobalConfig, IfConfig, SaConfig, SaSelector},
    replay::ReplayMode,
};
use kernel::prelude::*;

/// Most SA entries one namespace may hold.
pub(crate) const MAX_SA_OVERRIDES: usize = 4096;
/// Most interface entries one namespace may hold.
pub(crate) const MAX_IF_OVERRIDES: usize = 1024;

/// An SA as XFRM identifies it (`xfrm_state_lookup()`'s key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SaKey {
    /// `AF_INET` or `AF_INET6` (of the SA, i.e. of its outer header).
    pub(crate) family: u16,
    /// Destination address, zero-padded for IPv4.
    pub(crate) daddr: [u8; 16],
    /// SPI, host order.
    pub(crate) spi: u32,
    /// IPsec protocol (50).
    pub(crate) proto: u8,
}

impl SaKey {
    /// The key of a netlink selector.
    pub(crate) fn from_selector(s: &SaSelector) -> Self {
        SaKey { family: s.daddr.family.af(), daddr: s.daddr.bytes, spi: s.spi, proto: s.proto }
    }

    /// The key of an XFRM SA.
    pub(crate) fn of_state(x: &xfrm::State) -> Self {
        let mut daddr = x.daddr();
        if x.family() == Family::V4.af() {
            // Only the first 4 bytes of an IPv4 xfrm_address_t are meaningful.
            daddr[4..].fill(0);
        }
        SaKey { family: x.family(), daddr, spi: x.spi(), proto: x.proto() }
    }

    fn selector(&self) -> SaSelector {
        let daddr = match Family::from_af(self.family) {
            Some(Family::V6) => IpAddr::v6(self.daddr),
            _ => IpAddr { family: Family::V4, bytes: self.daddr },
        };
        SaSelector { daddr, spi: self.spi, proto: self.proto }
    }

    fn exists_in(&self, net: &Net) -> bool {
        // Mark 0: overrides are for SAs that unmarked traffic uses.
        xfrm::state_exists(net, 0, &self.daddr, self.spi, self.proto, self.family)
    }
}

/// The overrides of one SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SaEntry {
    key: SaKey,
    replay: Option<ReplayMode>,
    frag: FragSettings,
}

/// The overrides of one interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IfEntry {
    ifindex: u32,
    frag: FragSettings,
}

/// One published state of all settings; immutable once published.
pub(crate) struct Snapshot {
    /// Sorted by key, unique, at most `MAX_SA_OVERRIDES`.
    sas: KVec<SaEntry>,
    /// Sorted by ifindex, unique, at most `MAX_IF_OVERRIDES`.
    ifs: KVec<IfEntry>,
    /// Global DF mode and pre-fragmentation (both always set).
    global_frag: FragSettings,
    /// Global anti-replay default.
    #[allow(dead_code)] // Read by `replay_for()`.
    global_replay: ReplayMode,
    /// Whether any scope sets a DF mode or pre-fragmentation other than
    /// "nothing configured": when false the outbound hooks leave every
    /// packet alone, so the module changes nothing until configured.
    frag_engaged: bool,
}

impl Snapshot {
    fn sa(&self, key: &SaKey) -> Option<&SaEntry> {
        self.sas.binary_search_by(|e| e.key.cmp(key)).ok().and_then(|i| self.sas.get(i))
    }

    fn iface(&self, ifindex: u32) -> Option<&IfEntry> {
        self.ifs.binary_search_by(|e| e.ifindex.cmp(&ifindex)).ok().and_then(|i| self.ifs.get(i))
    }

    /// The SA's own replay setting, if it has one.
    ///
    /// For the receive path (softirq): `st.settings.read(state.rcu())`
    /// in a hook, or under a `kapi::rcu::RcuGuard` elsewhere, then
    /// `.sa_replay(&SaKey::of_state(x))` or `.replay_for(..)`.
    pub(crate) fn sa_replay(&self, key: &SaKey) -> Option<ReplayMode> {
        self.sa(key).and_then(|e| e.replay)
    }

    /// The replay setting that applies to the SA: its own, or the global one.
    #[allow(dead_code)]
    pub(crate) fn replay_for(&self, key: &SaKey) -> ReplayMode {
        self.sa_replay(key).unwrap_or(self.global_replay)
    }

    /// Whether any DF / pre-fragmentation setting was made (see the field).
    pub(crate) fn frag_engaged(&self) -> bool {
        self.frag_engaged
    }

    /// DF mode and pre-fragmentation for the SA `key` leaving through
    /// interface `ifindex`: SA over interface over global.
    pub(crate) fn frag_for(&self, key: &SaKey, ifindex: u32) -> Resolved {
        let sa = self.sa(key).map(|e| e.frag).unwrap_or_default();
        let ifc = self.iface(ifindex).map(|e| e.frag).unwrap_or_default();
        frag::resolve(sa, ifc, self.global_frag)
    }

    fn compute_engaged(&mut self) {
        let default = FragSettings { df: Some(frag::DEFAULT_DF_MODE), prefrag: Some(frag::DEFAULT_PREFRAG) };
        let set = |f: &FragSettings| f.df.is_some() || f.prefrag.is_some();
        self.frag_engaged = self.global_frag != default
            || self.sas.iter().any(|e| set(&e.frag))
            || self.ifs.iter().any(|e| set(&e.frag));
    }

    fn with_global(cfg: &GlobalConfig) -> Result<KBox<Snapshot>> {
        let mut s = Snapshot {
            sas: KVec::new(),
            ifs: KVec::new(),
            global_frag: cfg.frag_settings(),
            global_replay: cfg.replay_mode(),
            frag_engaged: false,
        };
        s.compute_engaged();
        Ok(KBox::new(s, GFP_KERNEL)?)
    }
}

/// Why a write was refused (the netlink layer turns it into errno + extack).
#[derive(Debug)]
pub(crate) enum SetError {
    /// No such SA in XFRM.
    NoSuchSa,
    /// No such interface.
    NoSuchDevice,
    /// The table is full.
    Full,
    /// Out of memory.
    NoMem,
}

impl From<kernel::alloc::AllocError> for SetError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        SetError::NoMem
    }
}

/// The settings of one namespace.
pub(crate) struct Settings {
    current: RcuBox<Snapshot>,
}

impl Settings {
    /// Settings with no overrides and the globals of `cfg` (process context).
    pub(crate) fn new(cfg: &GlobalConfig) -> Result<Self> {
        Ok(Settings { current: RcuBox::new(Snapshot::with_global(cfg)?) })
    }

    /// The current settings, for as long as the read-side section lasts.
    pub(crate) fn read<'a>(&'a self, rs: ReadSide<'a>) -> &'a Snapshot {
        self.current.get(rs)
    }

    /// Copies the current snapshot's tables (with room for one more entry
    /// each), dropping stale entries when `net` is given. Process context;
    /// the caller holds the config mutex.
    fn copy(&self, net: Option<&Net>) -> Result<(KVec<SaEntry>, KVec<IfEntry>), SetError> {
        // Allocate outside the read-side section (GFP_KERNEL may sleep); the
        // sizes cannot change meanwhile: writers hold the config mutex, as
        // our caller does (were it otherwise, GFP_ATOMIC below would cope).
        let (ns, ni) = {
            let g = RcuGuard::new();
            let s = self.read(g.side());
            (s.sas.len(), s.ifs.len())
        };
        let mut sas = KVec::with_capacity(ns + 1, GFP_KERNEL)?;
        let mut ifs = KVec::with_capacity(ni + 1, GFP_KERNEL)?;
        let g = RcuGuard::new();
        let s = self.read(g.side());
        // XFRM lookups and device lookups are fine under RCU; nothing sleeps.
        for e in s.sas.iter().filter(|e| net.map_or(true, |n| e.key.exists_in(n))) {
            sas.push(*e, GFP_ATOMIC)?;
        }
        for e in s.ifs.iter().filter(|e| net.map_or(true, |n| kapi::net::dev_exists(n, e.ifindex))) {
            ifs.push(*e, GFP_ATOMIC)?;
        }
        Ok((sas, ifs))
    }

    fn publish(&self, cfg: &GlobalConfig, sas: KVec<SaEntry>, ifs: KVec<IfEntry>) -> Result<(), SetError> {
        let mut s = Snapshot {
            sas,
            ifs,
            global_frag: cfg.frag_settings(),
            global_replay: cfg.replay_mode(),
            frag_engaged: false,
        };
        s.compute_engaged();
        self.current.replace(KBox::new(s, GFP_KERNEL)?);
        Ok(())
    }

    /// Publishes the global settings of `new` (`SET_CONFIG`); `_locked` is
    /// the locked configuration (proof of holding the mutex), which the
    /// caller replaces with `new` afterwards.
    pub(crate) fn set_global(&self, _locked: &mut GlobalConfig, new: &GlobalConfig) -> Result<(), SetError> {
        let (sas, ifs) = self.copy(None)?;
        self.publish(new, sas, ifs)
    }

    /// Replaces the overrides of one SA (`SA_SET`); no override at all
    /// removes its entry. The SA must exist in XFRM (mark 0).
    pub(crate) fn set_sa(&self, cfg: &mut GlobalConfig, net: &Net, c: &SaConfig) -> Result<(), SetError> {
        let key = SaKey::from_selector(&c.sel);
        let (sas, ifs) = self.copy(Some(net))?;
        let empty = c.replay.is_none() && c.frag.df.is_none() && c.frag.prefrag.is_none();
        if !key.exists_in(net) {
            // (A stale entry for it was pruned by `copy()`.)
            if empty {
                return self.publish(cfg, sas, ifs);
            }
            return Err(SetError::NoSuchSa);
        }
        let new = SaEntry { key, replay: c.replay, frag: c.frag };
        let sas = upsert(sas, |e| e.key.cmp(&key), (!empty).then_some(new), MAX_SA_OVERRIDES)?;
        self.publish(cfg, sas, ifs)
    }

    /// Replaces the overrides of one interface (`IF_SET`); no override
    /// removes its entry. The interface must exist in `net`.
    pub(crate) fn set_if(&self, cfg: &mut GlobalConfig, net: &Net, c: &IfConfig) -> Result<(), SetError> {
        let (sas, ifs) = self.copy(Some(net))?;
        let empty = c.frag.df.is_none() && c.frag.prefrag.is_none();
        if !kapi::net::dev_exists(net, c.ifindex) {
            if empty {
                return self.publish(cfg, sas, ifs);
            }
            return Err(SetError::NoSuchDevice);
        }
        let new = IfEntry { ifindex: c.ifindex, frag: c.frag };
        let ifs = upsert(ifs, |e| e.ifindex.cmp(&c.ifindex), (!empty).then_some(new), MAX_IF_OVERRIDES)?;
        self.publish(cfg, sas, ifs)
    }

    /// Drops stale entries (deleted SAs, vanished interfaces) if there are
    /// any, then returns every SA entry (for `SA_GET`/`IF_GET`).
    fn prune(&self, cfg: &mut GlobalConfig, net: &Net) -> Result<(KVec<SaEntry>, KVec<IfEntry>), SetError> {
        let before = {
            let g = RcuGuard::new();
            let s = self.read(g.side());
            (s.sas.len(), s.ifs.len())
        };
        let (sas, ifs) = self.copy(Some(net))?;
        if (sas.len(), ifs.len()) != before {
            let (sas2, ifs2) = (dup(&sas)?, dup(&ifs)?);
            self.publish(cfg, sas2, ifs2)?;
        }
        Ok((sas, ifs))
    }

    /// `SA_GET`: every SA with overrides (stale ones pruned first).
    pub(crate) fn sa_list(&self, cfg: &mut GlobalConfig, net: &Net) -> Result<KVec<SaConfig>, SetError> {
        let (sas, _) = self.prune(cfg, net)?;
        let mut out = KVec::with_capacity(sas.len(), GFP_KERNEL)?;
        for e in sas.iter() {
            out.push(SaConfig { sel: e.key.selector(), replay: e.replay, frag: e.frag }, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// `SA_GET` of one SA: its overrides (none set if it has no entry).
    /// `NoSuchSa` if XFRM has no such SA.
    pub(crate) fn sa_get(&self, cfg: &mut GlobalConfig, net: &Net, sel: &SaSelector) -> Result<SaConfig, SetError> {
        let key = SaKey::from_selector(sel);
        let (sas, _) = self.prune(cfg, net)?;
        if !key.exists_in(net) {
            return Err(SetError::NoSuchSa);
        }
        let e = sas.binary_search_by(|e| e.key.cmp(&key)).ok().and_then(|i| sas.get(i));
        Ok(SaConfig {
            sel: key.selector(),
            replay: e.and_then(|e| e.replay),
            frag: e.map(|e| e.frag).unwrap_or_default(),
        })
    }

    /// `IF_GET`: every interface with overrides (vanished ones pruned first).
    pub(crate) fn if_list(&self, cfg: &mut GlobalConfig, net: &Net) -> Result<KVec<IfConfig>, SetError> {
        let (_, ifs) = self.prune(cfg, net)?;
        let mut out = KVec::with_capacity(ifs.len(), GFP_KERNEL)?;
        for e in ifs.iter() {
            out.push(IfConfig { ifindex: e.ifindex, frag: e.frag }, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// `IF_GET` of one interface: its overrides (none set if it has no
    /// entry). `NoSuchDevice` if there is no such interface.
    pub(crate) fn if_get(&self, cfg: &mut GlobalConfig, net: &Net, ifindex: u32) -> Result<IfConfig, SetError> {
        let (_, ifs) = self.prune(cfg, net)?;
        if !kapi::net::dev_exists(net, ifindex) {
            return Err(SetError::NoSuchDevice);
        }
        let e = ifs.binary_search_by(|e| e.ifindex.cmp(&ifindex)).ok().and_then(|i| ifs.get(i));
        Ok(IfConfig { ifindex, frag: e.map(|e| e.frag).unwrap_or_default() })
    }
}

fn dup<T: Copy>(v: &KVec<T>) -> Result<KVec<T>, SetError> {
    let mut out = KVec::with_capacity(v.len(), GFP_KERNEL)?;
    for e in v.iter() {
        out.push(*e, GFP_KERNEL)?;
    }
    Ok(out)
}

/// `old` (sorted by `cmp`, unique) with the entry `cmp` selects replaced by
/// `new`, inserted if absent, or removed if `new` is `None`. `Full` if that
/// would exceed `max` entries.
fn upsert<T: Copy>(
    old: KVec<T>,
    cmp: impl Fn(&T) -> core::cmp::Ordering,
    new: Option<T>,
    max: usize,
) -> Result<KVec<T>, SetError> {
    use core::cmp::Ordering::*;
    let exists = old.iter().any(|e| cmp(e) == Equal);
    if new.is_some() && !exists && old.len() >= max {
        return Err(SetError::Full);
    }
    let mut out = KVec::with_capacity(old.len() + 1, GFP_KERNEL)?;
    let mut pending = new;
    for e in old.iter() {
        match cmp(e) {
            // `e` sorts before the key.
            Less => out.push(*e, GFP_KERNEL)?,
            Equal => {
                if let Some(n) = pending.take() {
                    out.push(n, GFP_KERNEL)?;
                }
            }
            Greater => {
                if let Some(n) = pending.take() {
                    out.push(n, GFP_KERNEL)?;
                }
                out.push(*e, GFP_KERNEL)?;
            }
        }
    }
    if let Some(n) = pending {
        out.push(n, GFP_KERNEL)?;
    }
    Ok(out)
}
