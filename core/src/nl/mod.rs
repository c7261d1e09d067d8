//! The generic-netlink ABI of `ipsec_rs`, shared by the kernel module and userspace so the
//! two cannot disagree: family name, version, multicast group, command and attribute numbers,
//! typed messages, and the encoding of netlink attributes.
//!
//! `Documentation/netlink/specs/ipsec_rs.yaml` describes the same ABI for the kernel's `ynl`
//! tools; a unit test (`tests.rs`) checks that every name and number there matches the
//! tables here.
//!
//! One file per layer, everything re-exported here as `nl::Name`:
//!
//! * `wire.rs`: the encoding of netlink attributes ([`AttrWriter`], [`Attrs`], [`Attr`]) and
//!   its errors ([`NoSpace`], [`NlError`]);
//! * `abi.rs`: the tables: the family, [`cmd`], [`COMMANDS`], every attribute set
//!   ([`AttrSpec`]) and the counters ([`COUNTERS`], [`Counters`]);
//! * `msg/`: the messages, one file each ([`InvalidSpiEvent`], [`GlobalConfig`],
//!   [`SaConfig`], [`IfConfig`], [`SaState`], the counters' encoding).
//!
//! Everything here is pure and reentrant.

mod abi;
mod msg;
mod wire;

#[cfg(test)]
mod tests;

pub use abi::*;
pub use msg::*;
pub use wire::*;
