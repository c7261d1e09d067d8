//! Pure, allocation-free core of `ipsec_rs`.
//!
//! This crate holds the logic of `ipsec_rs` that does not touch the kernel: packet
//! classification, the anti-replay window, the invalid-SPI rate limiter and its keyed hash, the
//! DF-bit / pre-fragmentation decision and the generic-netlink ABI.  It is built twice:
//!
//! * as an ordinary host crate (`cargo test`, benches, fuzzing, userspace tools);
//! * inside the kernel module, which includes every file below as a sibling module with
//!   `#[path = "../core/src/<file>.rs"]` (`nl/mod.rs` for `nl`, a directory).  That is why
//!   the modules only refer to each other through `super::`, carry no inner attributes and
//!   use neither `alloc` nor `std`.  An item the module does not use (the tools', the tests')
//!   says so with `#[cfg_attr(MODULE, expect(dead_code, reason = "..."))]` (kbuild compiles
//!   modules with `--cfg MODULE`), so the module's build keeps telling what it leaves unused.
//!
//! Nothing here allocates, panics on external input or uses floating point.  Storage that
//! scales with configuration (the replay bitmap, the flow table) is always supplied by the
//! caller, so the kernel can allocate it once when the configuration changes.
//!
//! One file is the exception: `replay_model.rs`, the replay window's reference model for the
//! tests and the fuzz target, needs `std` (the crate is `std` with it: in tests, and with the
//! `model` feature), and the module does not include it.
//!
//! See `Documentation/core.rst` for the design and the concurrency contracts.
#![cfg_attr(not(any(test, feature = "model")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::float_arithmetic
    )
)]

pub mod display;
pub mod esp;
pub mod frag;
pub mod nl;
pub mod ratelimit;
pub mod replay;
#[cfg(any(test, feature = "model"))]
pub mod replay_model;
pub mod siphash;
pub mod tunnel;
