// SPDX-License-Identifier: GPL-2.0

//! Raw bindings to the kernel APIs listed in `rust/bindgen_parameters`,
//! generated at build time from `rust/bindings_helper.h`.
//!
//! Nothing outside `rust/` may use this module directly.

#![allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    missing_docs
)]

// The kernel's bindgen parameters block these so they map to Rust's sizes.
pub type __kernel_size_t = usize;
pub type __kernel_ssize_t = isize;
pub type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
