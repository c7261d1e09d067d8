// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of network
 * namespaces (net/net_namespace.h, net/netns/generic.h).
 */
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <linux/netdevice.h>
#include "helpers.h"

void *ipsec_rs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

/* The fields Rust reads at the offsets of helpers.h (IPSEC_RS_OFF_*):
 * dev_net(): possible_net_t is the namespace pointer itself (CONFIG_NET_NS,
 * which every kernel the module is for has). */
static_assert(sizeof_field(struct net_device, nd_net) == sizeof(struct net *),
	      "CONFIG_NET_NS is needed");
/* net_generic(): the RCU-protected array pointer, and its slots. */
static_assert(sizeof_field(struct net, gen) == sizeof(struct net_generic *));
static_assert(sizeof_field(struct net_generic, ptr[0]) == sizeof(void *));

/* for_each_net() under net_rwsem, @f called for each namespace. */
void ipsec_rs_for_each_net(void (*f)(struct net *net, void *arg), void *arg)
{
	struct net *net;

	down_read(&net_rwsem);
	for_each_net(net)
		f(net, arg);
	up_read(&net_rwsem);
}

u64 ipsec_rs_net_cookie(const struct net *net)
{
	return net->net_cookie;
}
