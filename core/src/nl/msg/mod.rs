//! The family's messages, one file each, and the encoding of the fields they share.
//!
//! # Semantics of the set commands
//!
//! * [`cmd::SET_CONFIG`](super::cmd::SET_CONFIG) patches the global configuration: absent
//!   attributes keep their value.  The result is validated as a whole before anything
//!   changes.
//! * [`cmd::SA_SET`](super::cmd::SA_SET) and [`cmd::IF_SET`](super::cmd::IF_SET) replace
//!   all overrides of one SA / interface: an absent setting means "inherit from the wider
//!   scope".

mod config;
mod event;
mod iface;
mod sa;
mod sa_state;
mod stats;

pub use config::*;
pub use event::*;
pub use iface::*;
pub use sa::*;
pub use sa_state::*;

use super::super::esp::{Family, IpAddr};
use super::super::frag::{DfMode, PreFrag};
use super::{Attr, NlError};

// The fields several messages carry: enumerations, family, addresses.

/// Wire value of a [`DfMode`].
pub const fn df_mode_to_u8(m: DfMode) -> u8 {
    match m {
        DfMode::Clear => 1,
        DfMode::Set => 2,
        DfMode::Copy => 3,
    }
}

/// Wire value of a [`PreFrag`].
pub const fn prefrag_to_u8(p: PreFrag) -> u8 {
    match p {
        PreFrag::Enabled => 1,
        PreFrag::Disabled => 2,
    }
}

fn df_mode_attr(a: &Attr<'_>) -> Result<DfMode, NlError> {
    match a.u8()? {
        1 => Ok(DfMode::Clear),
        2 => Ok(DfMode::Set),
        3 => Ok(DfMode::Copy),
        _ => Err(NlError::at(
            c"DF mode must be clear(1), set(2) or copy(3)",
            a.offset,
        )),
    }
}

fn prefrag_attr(a: &Attr<'_>) -> Result<PreFrag, NlError> {
    match a.u8()? {
        1 => Ok(PreFrag::Enabled),
        2 => Ok(PreFrag::Disabled),
        _ => Err(NlError::at(
            c"pre-fragmentation must be enabled(1) or disabled(2)",
            a.offset,
        )),
    }
}

fn family_attr(a: &Attr<'_>) -> Result<Family, NlError> {
    Family::from_af(a.u16()?).ok_or(NlError::at(c"family must be AF_INET or AF_INET6", a.offset))
}

fn addr_attr(a: &Attr<'_>) -> Result<IpAddr, NlError> {
    IpAddr::from_slice(a.payload).ok_or(NlError::at(c"address must be 4 or 16 bytes", a.offset))
}

fn check_family(family: Family, addr: &IpAddr) -> Result<(), NlError> {
    if addr.family == family {
        Ok(())
    } else {
        Err(NlError::new(c"address length does not match the family"))
    }
}
