// SPDX-License-Identifier: GPL-2.0

//! The configuration of one namespace, as one snapshot: the global
//! configuration (`SET_CONFIG`: receive path, invalid-SPI detection, limits,
//! defaults) and the overrides at the two narrower scopes, per SA (keyed like
//! XFRM: family, destination address, SPI, protocol) and per egress
//! interface. The packet paths read it without locks.
//!
//! Storage: one immutable [`Snapshot`] (sorted arrays, binary search) behind
//! an [`RcuBox`]. Readers (hooks in softirq, netlink's GET requests under an
//! `RcuGuard`) take no lock and never wait. A writer builds a complete new
//! snapshot in process context (GFP_KERNEL), publishes it and frees the old
//! one after a grace period. Writers are `config.rs` alone, serialised by
//! the namespace's writer mutex; what a change implies beyond the snapshot
//! (hooks, the limiter, the SA table) is decided there.
//!
//! Bounds: at most [`MAX_SA_OVERRIDES`] SA entries and [`MAX_IF_OVERRIDES`]
//! interface entries per namespace (about 40 and 12 bytes each); more is
//! refused with `ENOSPC`. An SA or interface without any override has no
//! entry (setting nothing removes the entry).
//!
//! Stale entries: an entry is created only for an SA that exists in XFRM.
//! Entries whose SA has since been deleted are pruned on every `SA_SET`
//! (one XFRM lookup per entry, process context), and interface entries
//! whose device is gone on every `IF_SET`; `SA_GET` and `IF_GET` leave them
//! out of their answers without publishing anything (a read, open to
//! unprivileged users, never makes the kernel wait for a grace period). The
//! caps bound what can accumulate in between. Until it is pruned, an entry
//! applies to a new SA with the same destination, SPI and protocol.

use crate::{
    esp::{Family, IpAddr},
    frag::{self, FragSettings, Resolved},
    nl::{GlobalConfig, IfConfig, SaConfig, SaSelector},
    replay::ReplayMode,
    rust::{
        self,
        net::Net,
        rcu::{RcuBox, RcuGuard, ReadSide},
        xfrm,
    },
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
        SaKey {
            family: s.daddr.family.af(),
            daddr: s.daddr.bytes,
            spi: s.spi,
            proto: s.proto,
        }
    }

    /// The key of an XFRM SA.
    pub(crate) fn of_state(x: &xfrm::State) -> Self {
        // Only the family's bytes of an xfrm_address_t are meaningful.
        let fam = Family::from_af(x.family()).unwrap_or(Family::V6);
        let daddr = IpAddr::of_family(fam, x.daddr()).bytes;
        SaKey {
            family: x.family(),
            daddr,
            spi: x.spi(),
            proto: x.proto(),
        }
    }

    fn selector(&self) -> SaSelector {
        let daddr = match Family::from_af(self.family) {
            Some(Family::V6) => IpAddr::v6(self.daddr),
            _ => IpAddr {
                family: Family::V4,
                bytes: self.daddr,
            },
        };
        SaSelector {
            daddr,
            spi: self.spi,
            proto: self.proto,
        }
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
    /// The global configuration.
    global: GlobalConfig,
    /// Its DF mode and pre-fragmentation (both always set), read per packet.
    global_frag: FragSettings,
    /// Whether any scope sets a DF mode or pre-fragmentation other than
    /// "nothing configured": when false the outbound hooks leave every
    /// packet alone, so the module changes nothing until configured.
    frag_engaged: bool,
}

impl Snapshot {
    /// The global configuration.
    pub(crate) fn global(&self) -> &GlobalConfig {
        &self.global
    }

    /// The receive path is on.
    pub(crate) fn rx_enabled(&self) -> bool {
        self.global.rx_enable
    }

    /// Invalid-SPI detection is on.
    pub(crate) fn invalid_spi_enabled(&self) -> bool {
        self.global.invalid_spi_enable
    }

    fn sa(&self, key: &SaKey) -> Option<&SaEntry> {
        self.sas
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .and_then(|i| self.sas.get(i))
    }

    fn iface(&self, ifindex: u32) -> Option<&IfEntry> {
        self.ifs
            .binary_search_by(|e| e.ifindex.cmp(&ifindex))
            .ok()
            .and_then(|i| self.ifs.get(i))
    }

    /// The SA's own replay setting, if it has one.
    ///
    /// For the receive path (softirq): `st.settings.read(state.rcu())`
    /// in a hook, or under a `rust::rcu::RcuGuard` elsewhere, then
    /// `.sa_replay(&SaKey::of_state(x))`.
    pub(crate) fn sa_replay(&self, key: &SaKey) -> Option<ReplayMode> {
        self.sa(key).and_then(|e| e.replay)
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
        let default = FragSettings {
            df: Some(frag::DEFAULT_DF_MODE),
            prefrag: Some(frag::DEFAULT_PREFRAG),
        };
        let set = |f: &FragSettings| f.df.is_some() || f.prefrag.is_some();
        self.frag_engaged = self.global_frag != default
            || self.sas.iter().any(|e| set(&e.frag))
            || self.ifs.iter().any(|e| set(&e.frag));
    }

    fn build(
        global: GlobalConfig,
        sas: KVec<SaEntry>,
        ifs: KVec<IfEntry>,
    ) -> Result<KBox<Snapshot>, SetError> {
        let mut s = Snapshot {
            sas,
            ifs,
            global_frag: global.frag_settings(),
            global,
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
    /// Settings with no overrides and the global configuration `cfg`
    /// (process context).
    pub(crate) fn new(cfg: &GlobalConfig) -> Result<Self> {
        let s = Snapshot::build(*cfg, KVec::new(), KVec::new()).map_err(|_| ENOMEM)?;
        Ok(Settings {
            current: RcuBox::new(s),
        })
    }

    /// The current settings, for as long as the read-side section lasts.
    pub(crate) fn read<'a>(&'a self, rs: ReadSide<'a>) -> &'a Snapshot {
        self.current.get(rs)
    }

    /// The global configuration in force (a copy; never waits).
    pub(crate) fn global(&self) -> GlobalConfig {
        let g = RcuGuard::new();
        self.read(g.side()).global
    }

    /// Copies the current snapshot's tables (with room for one more entry
    /// each), leaving out stale entries when `net` is given. Process context.
    fn copy(&self, net: Option<&Net>) -> Result<(KVec<SaEntry>, KVec<IfEntry>), SetError> {
        // Allocate outside the read-side section (GFP_KERNEL may sleep); if
        // a writer grew the tables meanwhile, GFP_ATOMIC below copes.
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
        for e in s
            .sas
            .iter()
            .filter(|e| net.map_or(true, |n| e.key.exists_in(n)))
        {
            sas.push(*e, GFP_ATOMIC)?;
        }
        for e in s
            .ifs
            .iter()
            .filter(|e| net.map_or(true, |n| rust::net::dev_exists(n, e.ifindex)))
        {
            ifs.push(*e, GFP_ATOMIC)?;
        }
        Ok((sas, ifs))
    }

    /// Publishes `s` and frees the one it replaces after a grace period
    /// (waits for it). Process context; the caller is the namespace's
    /// writer (`config.rs`, under the writer mutex).
    pub(crate) fn publish(&self, s: KBox<Snapshot>) {
        self.current.replace(s);
    }

    /// The snapshot with global configuration `new` (`SET_CONFIG`). For
    /// the writer.
    pub(crate) fn with_global(&self, new: &GlobalConfig) -> Result<KBox<Snapshot>, SetError> {
        let (sas, ifs) = self.copy(None)?;
        Snapshot::build(*new, sas, ifs)
    }

    /// The snapshot with the overrides of one SA replaced (`SA_SET`; none
    /// at all removes its entry), stale entries pruned. The SA must exist
    /// in XFRM (mark 0). For the writer.
    pub(crate) fn with_sa(&self, net: &Net, c: &SaConfig) -> Result<KBox<Snapshot>, SetError> {
        let key = SaKey::from_selector(&c.sel);
        let global = self.global();
        let (sas, ifs) = self.copy(Some(net))?;
        let empty = c.replay.is_none() && c.frag.df.is_none() && c.frag.prefrag.is_none();
        if !key.exists_in(net) {
            // (A stale entry for it was pruned by `copy()`.)
            if empty {
                return Snapshot::build(global, sas, ifs);
            }
            return Err(SetError::NoSuchSa);
        }
        let new = SaEntry {
            key,
            replay: c.replay,
            frag: c.frag,
        };
        let sas = upsert(
            sas,
            |e| e.key.cmp(&key),
            (!empty).then_some(new),
            MAX_SA_OVERRIDES,
        )?;
        Snapshot::build(global, sas, ifs)
    }

    /// The snapshot with the overrides of one interface replaced
    /// (`IF_SET`; none removes its entry), stale entries pruned. The
    /// interface must exist in `net`. For the writer.
    pub(crate) fn with_if(&self, net: &Net, c: &IfConfig) -> Result<KBox<Snapshot>, SetError> {
        let global = self.global();
        let (sas, ifs) = self.copy(Some(net))?;
        let empty = c.frag.df.is_none() && c.frag.prefrag.is_none();
        if !rust::net::dev_exists(net, c.ifindex) {
            if empty {
                return Snapshot::build(global, sas, ifs);
            }
            return Err(SetError::NoSuchDevice);
        }
        let new = IfEntry {
            ifindex: c.ifindex,
            frag: c.frag,
        };
        let ifs = upsert(
            ifs,
            |e| e.ifindex.cmp(&c.ifindex),
            (!empty).then_some(new),
            MAX_IF_OVERRIDES,
        )?;
        Snapshot::build(global, sas, ifs)
    }

    /// `SA_GET` dump: every SA with overrides whose SA still exists (stale
    /// entries are left out, not pruned: a read never publishes).
    pub(crate) fn sa_list(&self, net: &Net) -> Result<KVec<SaConfig>, SetError> {
        let (sas, _) = self.copy(Some(net))?;
        let mut out = KVec::with_capacity(sas.len(), GFP_KERNEL)?;
        for e in sas.iter() {
            out.push(
                SaConfig {
                    sel: e.key.selector(),
                    replay: e.replay,
                    frag: e.frag,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(out)
    }

    /// `SA_GET` of one SA: its overrides (none set if it has no entry).
    /// `NoSuchSa` if XFRM has no such SA.
    pub(crate) fn sa_get(&self, net: &Net, sel: &SaSelector) -> Result<SaConfig, SetError> {
        let key = SaKey::from_selector(sel);
        if !key.exists_in(net) {
            return Err(SetError::NoSuchSa);
        }
        let g = RcuGuard::new();
        let e = self.read(g.side()).sa(&key).copied();
        Ok(SaConfig {
            sel: key.selector(),
            replay: e.and_then(|e| e.replay),
            frag: e.map(|e| e.frag).unwrap_or_default(),
        })
    }

    /// `IF_GET` dump: every interface with overrides that still exists.
    pub(crate) fn if_list(&self, net: &Net) -> Result<KVec<IfConfig>, SetError> {
        let (_, ifs) = self.copy(Some(net))?;
        let mut out = KVec::with_capacity(ifs.len(), GFP_KERNEL)?;
        for e in ifs.iter() {
            out.push(
                IfConfig {
                    ifindex: e.ifindex,
                    frag: e.frag,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(out)
    }

    /// `IF_GET` of one interface: its overrides (none set if it has no
    /// entry). `NoSuchDevice` if there is no such interface.
    pub(crate) fn if_get(&self, net: &Net, ifindex: u32) -> Result<IfConfig, SetError> {
        if !rust::net::dev_exists(net, ifindex) {
            return Err(SetError::NoSuchDevice);
        }
        let g = RcuGuard::new();
        let e = self.read(g.side()).iface(ifindex).copied();
        Ok(IfConfig {
            ifindex,
            frag: e.map(|e| e.frag).unwrap_or_default(),
        })
    }
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
