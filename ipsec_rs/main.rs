// SPDX-License-Identifier: GPL-2.0

//! ipsec_rs: a fast inbound ESP path, large anti-replay windows, per-SA DF and
//! pre-fragmentation control, and invalid-SPI detection for Linux routers,
//! on top of the kernel's own XFRM.
//!
//! One file per concern, like WireGuard's module:
//! - `netns.rs`: the state each network namespace gets (its pernet state);
//! - `settings.rs`: its configuration, one RCU snapshot (global, per SA,
//!   per interface); `config.rs`: the one function that changes it and
//!   does what each change implies;
//! - `globals.rs`: the module's one global (request memory, GRO cells, the
//!   family's events), for callbacks without a data pointer;
//! - `events.rs`: events multicast from the packet paths;
//! - `params.rs`: the module's parameters, new namespaces' defaults;
//! - `esp_input.rs`: the inbound ESP data path, in order, with every drop
//!   counted; ESP's own steps in `esp_algs.rs` (which SAs and transforms
//!   we take), `esp_decrypt.rs` (decryption set-up, ESN layout),
//!   `esp_trailer.rs` (padding, next header) and `decap.rs` (per mode,
//!   re-entry into the stack); `sa.rs`: what we keep per SA;
//! - `invalid_spi.rs`: packets for SAs that do not exist; `vti.rs`: those
//!   between the endpoints of vti tunnels, which claim them before us;
//! - `natt.rs`: the inbound hooks that count IKE and keepalives on the
//!   NAT-T port;
//! - `output.rs`: the outbound hooks (outer DF bit, pre-fragmentation);
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
mod rust;

// The core's files (its items are `pub`, the core crate's API; private
// here, hence `unreachable_pub`). The items the module does not use (the
// tools', the tests') say so where they are defined, with
// `#[cfg_attr(MODULE, expect(dead_code, reason = ...))]`.
#[path = "../core/src/esp.rs"]
#[allow(unreachable_pub)]
mod esp;
#[path = "../core/src/frag.rs"]
#[allow(unreachable_pub)]
mod frag;
#[path = "../core/src/nl/mod.rs"]
#[allow(unreachable_pub)]
mod nl;
#[path = "../core/src/ratelimit.rs"]
#[allow(unreachable_pub)]
mod ratelimit;
#[path = "../core/src/replay.rs"]
#[allow(unreachable_pub)]
mod replay;
#[path = "../core/src/siphash.rs"]
#[allow(unreachable_pub)]
mod siphash;
#[path = "../core/src/tunnel.rs"]
#[allow(unreachable_pub)]
mod tunnel;

#[path = "../core/src/display.rs"]
#[allow(unreachable_pub)]
mod display;
// The core's addresses in the log lines (`{}` in `pr_*!`).
kernel_display!(esp::IpAddr);

mod config;
mod counters;
mod decap;
mod esp_algs;
mod esp_decrypt;
mod esp_headers;
mod esp_input;
mod esp_trailer;
mod events;
mod globals;
mod invalid_spi;
mod natt;
mod netlink;
mod netns;
mod output;
mod params;
mod sa;
mod settings;
mod tunnels;
mod vti;

kernel_module! {
    type: IpsecRs,
    name: "ipsec_rs",
    author: "ipsec_rs developers",
    description: "Fast inbound ESP, anti-replay, DF/pre-fragmentation and invalid-SPI events over XFRM",
    license: "GPL",
}

/// The module: what is registered while it is loaded.
///
/// Field order is teardown order: the netlink family goes first (no new
/// requests), then the receive path's handlers (and the wait for pending
/// decryptions), then the netdevice notifier (the vti devices each
/// namespace holds let go), then the per-namespace state (hooks
/// unregistered, SA tables handed back, counters freed), then the module's
/// globals, and last the wait for RCU callbacks still to release SA entries.
struct IpsecRs {
    _genl: KBox<netlink::Family>,
    _rx: RxRegistration,
    _netdev: rust::netdev::Notifier<vti::Watch>,
    _pernet: rust::net::PernetRegistration<netns::PerNet>,
    globals: globals::Published,
    _rcu: RcuCallbacks,
}

/// Waits, when dropped, for the RCU callbacks that release unlinked SA
/// entries (`sa.rs`): they run module code.
struct RcuCallbacks;

impl Drop for RcuCallbacks {
    fn drop(&mut self) {
        rust::rcu::barrier();
    }
}

/// The receive path's ESP handlers (and with `rx_gro=1` its GRO slots), and
/// the observer above vti. Dropping it unregisters them (waiting for running
/// ones), then waits for pending asynchronous decryptions, whose completions
/// run module code, use per-namespace state and hand packets to the
/// globals' GRO cells.
struct RxRegistration {
    gro: Option<rust::gro::Slot>,
    handlers: Option<rust::xfrm::Registration>,
    observer: Option<rust::xfrm::Registration>,
}

impl Drop for RxRegistration {
    fn drop(&mut self) {
        self.observer.take();
        self.gro.take();
        self.handlers.take();
        if let Some(g) = globals::get() {
            g.pool.wait_idle();
        }
    }
}

impl kernel::Module for IpsecRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // The globals first (the ESP handlers and events read them), then
        // the namespaces (the handlers and the family's requests look their
        // state up). Until the family's events are published, the packet
        // paths count but send no events.
        let defaults = params::defaults()?;
        let rx_gro = params::rx_gro()?;
        let rx_on = defaults.rx_enable;
        let globals = globals::Published::new(defaults, esp_decrypt::REQ_SLOT)?;
        let pernet = rust::net::PernetRegistration::new()?;
        // After the namespaces' state, which holds each one's vti devices.
        let netdev = rust::netdev::Notifier::<vti::Watch>::new()?;
        let mut rx = RxRegistration {
            gro: None,
            handlers: Some(rust::xfrm::Registration::new::<esp_input::Rx>(
                esp_input::PRIORITY,
            )?),
            observer: None,
        };
        rx.observer = Some(rust::xfrm::Registration::new::<vti::Observer>(
            vti::PRIORITY,
        )?);
        if rx_gro {
            // Yielded to the kernel's own ESP offload modules while they
            // are loaded (`rust::gro`).
            rx.gro = Some(rust::gro::Slot::new::<esp_input::Rx>(
                c"esp4_offload",
                c"esp6_offload",
            )?);
        }
        let genl = netlink::register(module)?;
        events::publish(globals.get(), genl.multicast());
        pr_info!("loaded\n");
        if rx_on {
            esp_input::warn_if_gro_offload();
        }
        Ok(IpsecRs {
            _genl: genl,
            _rx: rx,
            _netdev: netdev,
            _pernet: pernet,
            globals,
            _rcu: RcuCallbacks,
        })
    }
}

impl Drop for IpsecRs {
    fn drop(&mut self) {
        // Before the fields drop: stop the packet paths from sending events
        // through the family, and wait for those that might be.
        events::unpublish(self.globals.get());
        // Give every SA back to XFRM while our handlers still run: from here
        // they decline every packet, and XFRM has our replay state.
        netns::hand_back_all();
        pr_info!("unloading\n");
    }
}
