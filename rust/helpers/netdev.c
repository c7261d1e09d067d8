// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of net devices
 * (linux/netdevice.h).
 */
#include <linux/netdevice.h>
#include "helpers.h"

void ipsec_rs_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

void ipsec_rs_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void *ipsec_rs_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

/* A receive error of a tunnel device, as vti counts one (DEV_STATS_INC). */
void ipsec_rs_dev_rx_error(struct net_device *dev)
{
	DEV_STATS_INC(dev, rx_errors);
	DEV_STATS_INC(dev, rx_dropped);
}

/* netif_elide_gro(): GRO off on @dev, or an XDP program attached. */
bool ipsec_rs_netif_elide_gro(const struct net_device *dev)
{
	return netif_elide_gro(dev);
}
