// SPDX-License-Identifier: GPL-2.0

#include <linux/moduleparam.h>

/*
 * Module parameters (module_param() is a macro): the configuration new
 * namespaces start with, and init_net at load. -1 (0 for replay_window):
 * not given. ipsec_rs/params.rs finds each by name (rust/params.rs),
 * validates it, applies the core's default where one was not given, and
 * writes the effective value back, so that /sys/module/ipsec_rs/parameters/
 * shows what applies. Read-only after load. Declared in C: the kernel's
 * Rust module! of 6.12 has no parameters.
 */
static int rx_enable = -1;
module_param(rx_enable, int, 0444);
MODULE_PARM_DESC(rx_enable, "Receive path on in new namespaces: 0 or 1 (default 0)");
static int invalid_spi_enable = -1;
module_param(invalid_spi_enable, int, 0444);
MODULE_PARM_DESC(invalid_spi_enable, "Invalid-SPI detection on in new namespaces: 0 or 1 (default 1)");
static unsigned int replay_window;
module_param(replay_window, uint, 0444);
MODULE_PARM_DESC(replay_window, "Default anti-replay window of new namespaces: 32..1048576 packets (default 64)");
static int replay_disabled = -1;
module_param(replay_disabled, int, 0444);
MODULE_PARM_DESC(replay_disabled, "Anti-replay off by default in new namespaces: 0 or 1 (default 0)");
static int rx_gro = -1;
module_param(rx_gro, int, 0444);
MODULE_PARM_DESC(rx_gro, "Receive path takes ESP inside GRO (the IPv4/IPv6 ESP GRO slots, yielded to esp4_offload/esp6_offload): 0 or 1 (default 0)");
