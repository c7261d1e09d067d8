// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions of routes (net/dst.h).
 */
#include <net/dst.h>
#include <net/ip.h>
#include <net/xfrm.h>
#include "helpers.h"

struct dst_entry *ipsec_rs_skb_dst(const struct sk_buff *skb)
{
	return skb_dst(skb);
}

struct xfrm_state *ipsec_rs_dst_xfrm(const struct dst_entry *dst)
{
	return dst->xfrm;
}

u32 ipsec_rs_dst_mtu(const struct dst_entry *dst)
{
	return dst_mtu(dst);
}

/* ip_skb_dst_mtu() of a packet with a route. */
u32 ipsec_rs_ip_skb_dst_mtu(struct sock *sk, const struct sk_buff *skb)
{
	return ip_skb_dst_mtu(sk, skb);
}
