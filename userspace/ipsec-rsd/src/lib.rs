// SPDX-License-Identifier: GPL-2.0

//! `ipsec-rsd`, the invalid-SPI recovery daemon of ipsec_rs: library part.
//!
//! * [`config`]: the TOML configuration;
//! * [`engine`]: per-event decision, per-peer and global limits, counters;
//! * [`notify`]: the unprotected RFC 7296 INVALID_SPI notification;
//! * [`vici`]: a small client for strongSwan's VICI protocol;
//! * [`backend`]: recovery through strongSwan (VICI) or libreswan (whack);
//! * [`libreswan`]: the libreswan back end;
//! * [`daemon`]: netlink subscription, event loop, recovery worker.

#![deny(missing_docs)]

pub mod backend;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod libreswan;
pub mod notify;
pub mod vici;
