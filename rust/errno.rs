// SPDX-License-Identifier: GPL-2.0

//! Error codes the 6.12 `kernel` crate does not declare.

use super::bindings as b;
use kernel::error::Error;

/// Message too long (a netlink message that does not fit).
pub fn emsgsize() -> Error {
    Error::from_errno(-(b::EMSGSIZE as i32))
}

/// Operation not supported.
pub fn eopnotsupp() -> Error {
    Error::from_errno(-(b::EOPNOTSUPP as i32))
}
