// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of conntrack
 * references on skbs.
 */
#include <net/netfilter/nf_conntrack.h>
#include "helpers.h"

void ipsec_rs_nf_reset_ct(struct sk_buff *skb)
{
	nf_reset_ct(skb);
}
