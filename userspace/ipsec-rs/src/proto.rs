// SPDX-License-Identifier: GPL-2.0

//! The `ipsec_rs` family's requests and replies: the typed client of the
//! `genl` crate (`ipsec_rs_genl::family`), which the recovery daemon uses
//! too, plus what only this tool needs.

use ipsec_rs_core::replay::ReplayMode;
pub use ipsec_rs_genl::family::{
    encode_if_get, encode_if_set, encode_sa_get, encode_sa_set, name_bad_attribute, ConfigPatch,
    FamilyError, Module, Notification,
};

/// The replay setting of an SA in words.
pub fn replay_mode_name(m: Option<ReplayMode>) -> String {
    match m {
        None => "inherit".into(),
        Some(ReplayMode::Disabled) => "disabled".into(),
        Some(ReplayMode::Window(w)) => format!("window {w}"),
    }
}
