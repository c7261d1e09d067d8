// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of XFRM states,
 * statistics and policy checks (net/xfrm.h).
 */
#include <net/xfrm.h>
#include "helpers.h"

void ipsec_rs_xfrm_state_put(struct xfrm_state *x)
{
	xfrm_state_put(x);
}

void ipsec_rs_xfrm_mode_skb_cb_set_protocol(struct sk_buff *skb, u8 proto)
{
	XFRM_MODE_SKB_CB(skb)->protocol = proto;
}

void ipsec_rs_xfrm_state_hold(struct xfrm_state *x)
{
	xfrm_state_hold(x);
}

void ipsec_rs_xfrm_inc_stats(struct net *net, int field)
{
	XFRM_INC_STATS(net, field);
}

/* ip_do_fragment()'s output for pre-fragmented packets: each fragment goes
 * on where xfrm4_output()'s POST_ROUTING hook would have sent the packet. */
int ipsec_rs_xfrm_output_frag(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	return xfrm_output(sk, skb);
}

u8 ipsec_rs_xfrm_mode(const struct xfrm_state *x)
{
	return x->props.mode;
}

u16 ipsec_rs_xfrm_family(const struct xfrm_state *x)
{
	return x->props.family;
}

const void *ipsec_rs_xfrm_daddr(const struct xfrm_state *x)
{
	return &x->id.daddr;
}

u32 ipsec_rs_xfrm_spi(const struct xfrm_state *x)
{
	return ntohl(x->id.spi);
}

u8 ipsec_rs_xfrm_proto(const struct xfrm_state *x)
{
	return x->id.proto;
}

/* XFRM's inbound policy check of a received packet (static inline). */
bool ipsec_rs_xfrm_policy_check_in(struct sk_buff *skb, unsigned short family)
{
	return xfrm_policy_check(NULL, XFRM_POLICY_IN, skb, family);
}
