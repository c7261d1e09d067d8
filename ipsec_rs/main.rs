// SPDX-License-Identifier: GPL-2.0

//! ipsec_rs: a fast inbound ESP path, large anti-replay windows, per-SA DF and
//! pre-fragmentation control, and invalid-SPI detection for Linux routers,
//! on top of the kernel's own XFRM.
//!
//! One file per concern, like WireGuard's module:
//! - `netns.rs`: the state each network namespace gets;
//! - `esp_input.rs`: the inbound ESP data path, in order, with every drop
//!   counted; ESP's own steps in `esp_algs.rs` (which SAs and transforms
//!   we take), `esp_decrypt.rs` (decryption set-up, ESN layout),
//!   `esp_trailer.rs` (padding, next header) and `decap.rs` (per mode,
//!   re-entry into the stack); `sa.rs`: what we keep per SA;
//! - `invalid_spi.rs`: packets for SAs that do not exist;
//! - `natt.rs`: the inbound hooks that count IKE and keepalives on the
//!   NAT-T port;
//! - `output.rs`: the outbound hooks (outer DF bit, pre-fragmentation);
//! - `settings.rs`: per-SA, per-interface and global settings;
//! - `counters.rs`: the counters and their names;
//! - `netlink.rs`: the generic-netlink family `ipsec_rs`.
//!
//! The kernel APIs the `kernel` crate lacks are wrapped in `../rust/`; the pure
//! logic (parsing, replay window, rate limiter, DF decision, netlink ABI) is
//! the `../core/` crate, whose files are compiled in here as modules.

use kernel::prelude::*;

// The wrappers are written as a small library (`pub` API, documented); in
// this crate they are private, hence `unreachable_pub`.
#[path = "../rust/mod.rs"]
#[allow(unreachable_pub)]
mod kapi;

#[path = "../core/src/esp.rs"]
#[allow(dead_code, unreachable_pub)]
mod esp;
#[path = "../core/src/frag.rs"]
#[allow(dead_code, unreachable_pub)]
mod frag;
#[path = "../core/src/nl.rs"]
#[allow(dead_code, unreachable_pub)]
mod nl;
#[path = "../core/src/ratelimit.rs"]
#[allow(dead_code, unreachable_pub)]
mod ratelimit;
#[path = "../core/src/replay.rs"]
#[allow(dead_code, unreachable_pub)]
mod replay;
#[path = "../core/src/siphash.rs"]
#[allow(dead_code, unreachable_pub)]
mod siphash;

#[path = "../core/src/display.rs"]
#[allow(unreachable_pub)]
mod display;

mod counters;
mod decap;
mod esp_algs;
mod esp_decrypt;
mod esp_input;
mod esp_trailer;
mod invalid_spi;
mod natt;
mod netlink;
mod netns;
mod output;
mod sa;
mod settings;

module! {
    type: IpsecRs,
    name: "ipsec_rs",
    author: "ipsec_rs developers",
    description: "Fast inbound ESP, anti-replay, DF/pre-fragmentation and invalid-SPI events over XFRM",
    license: "GPL",
}

/// The module: what is registered while it is loaded.
///
/// Field order is teardown order: the netlink family goes first (no new
/// requests), then the per-namespace state (hooks unregistered, counters freed),
/// and last the wait for RCU callbacks still to release SA entries.
struct IpsecRs {
    _genl: KBox<netlink::Family>,
    _rx: RxRegistration,
    _pernet: kapi::net::PernetRegistration<netns::NetState>,
    registry: Pin<KBox<netns::Registry>>,
    _rcu: RcuCallbacks,
}

/// Waits, when dropped, for the RCU callbacks that release unlinked SA
/// entries (`sa.rs`): they run module code.
struct RcuCallbacks;

impl Drop for RcuCallbacks {
    fn drop(&mut self) {
        kapi::rcu::barrier();
    }
}

/// The receive path's ESP handlers and what they use beside them
/// (`esp_input::RxPath`: request memory, GRO cells). Dropping it
/// unregisters the handlers (waiting for running ones), waits for pending
/// asynchronous decryptions, whose completions run module code, use
/// per-namespace state and hand packets on, and only then withdraws and
/// frees the path (spare request buffers, GRO cells).
struct RxRegistration {
    handlers: Option<kapi::xfrm::Registration>,
    path: Option<KBox<esp_input::RxPath>>,
}

impl RxRegistration {
    fn new() -> Result<Self> {
        let path = KBox::new(esp_input::RxPath::new()?, GFP_KERNEL)?;
        esp_input::set_path(Some(&path));
        // From here `drop` withdraws the path again if registering fails.
        let mut r = RxRegistration { handlers: None, path: Some(path) };
        r.handlers = Some(kapi::xfrm::Registration::new::<esp_input::Rx>(esp_input::PRIORITY)?);
        Ok(r)
    }
}

impl Drop for RxRegistration {
    fn drop(&mut self) {
        self.handlers.take();
        if let Some(p) = &self.path {
            p.pool.wait_idle();
        }
        esp_input::set_path(None);
        self.path.take();
    }
}

impl kernel::Module for IpsecRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Namespaces first: the family's handlers look their state up. Until
        // the family is published, hooks count but send no events.
        let registry = netns::Registry::new()?;
        let pernet = kapi::net::PernetRegistration::new()?;
        let rx = RxRegistration::new()?;
        let genl = netlink::register(module)?;
        netlink::publish(&genl);
        pr_info!("loaded\n");
        Ok(IpsecRs { _genl: genl, _rx: rx, _pernet: pernet, registry, _rcu: RcuCallbacks })
    }
}

impl Drop for IpsecRs {
    fn drop(&mut self) {
        // Before the fields drop: stop hooks from sending events through the
        // family, and wait for those that might be.
        netlink::unpublish();
        // Give every SA back to XFRM while our handlers still run: from here
        // they decline every packet, and XFRM has our replay state.
        self.registry.hand_back_all();
        pr_info!("unloading\n");
    }
}
