/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel headers ipsec_rs binds with bindgen at build time, for the APIs
 * the 6.12 `kernel` crate does not cover (netfilter, pernet, genetlink, skb
 * internals). Only items named in bindgen_parameters are emitted.
 */
#include <linux/skbuff.h>
#include <linux/netdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/percpu.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/xfrm.h>
#include <crypto/aead.h>
#include <linux/scatterlist.h>
#include <linux/udp.h>
#include <linux/delay.h>
#include <linux/random.h>
#include <linux/timekeeping.h>
#include <net/gro_cells.h>
#include <net/protocol.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/if_packet.h>
#include <net/ip_tunnels.h>
#include <net/ip6_tunnel.h>
#include "helpers/helpers.h"
