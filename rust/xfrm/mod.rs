// SPDX-License-Identifier: GPL-2.0

//! XFRM, split as the kernel splits it: the SA database
//! ([`state`]), the input side ([`input`]) and the output side
//! ([`output`]). Their items are re-exported here.

mod input;
mod output;
mod state;

pub use input::*;
pub use output::*;
pub use state::*;
