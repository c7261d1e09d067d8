// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of IPv4/IPv6
 * header helpers and IPCB().
 */
#include <net/ip.h>
#include <net/inet_ecn.h>
#include <net/dsfield.h>
#include "helpers.h"

int ipsec_rs_ip_ecn_set_ce(struct iphdr *iph)
{
	return IP_ECN_set_ce(iph);
}

int ipsec_rs_ip6_ecn_set_ce(struct sk_buff *skb, struct ipv6hdr *iph)
{
	return IP6_ECN_set_ce(skb, iph);
}

void ipsec_rs_ipv4_copy_dscp(unsigned int dscp, struct iphdr *inner)
{
	ipv4_copy_dscp(dscp, inner);
}

void ipsec_rs_ipv6_copy_dscp(unsigned int dscp, struct ipv6hdr *inner)
{
	ipv6_copy_dscp(dscp, inner);
}

u16 ipsec_rs_ipcb_flags(const struct sk_buff *skb)
{
	return IPCB(skb)->flags;
}

u16 ipsec_rs_ipcb_frag_max_size(const struct sk_buff *skb)
{
	return IPCB(skb)->frag_max_size;
}

void ipsec_rs_ipcb_set_frag_max_size(struct sk_buff *skb, u16 size)
{
	IPCB(skb)->frag_max_size = size;
}
