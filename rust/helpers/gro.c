// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of GRO callbacks
 * (net/gro.h).
 */
#include <net/gro.h>
#include "helpers.h"

/* GRO's control block as rust/gro.rs reads it in place (helpers.h). */
static_assert(sizeof_field(struct napi_gro_cb, data_offset) == sizeof(int));
static_assert(sizeof_field(struct napi_gro_cb, proto) == sizeof(u16));
static_assert(sizeof(struct napi_gro_cb) <= sizeof_field(struct sk_buff, cb));

/* skb->data moved to the protocol header (@offset bytes on, pulled into the
 * linear head), as the protocols' gro_receive callbacks do. */
bool ipsec_rs_gro_pull(struct sk_buff *skb, unsigned int offset)
{
	return pskb_pull(skb, offset) != NULL;
}

/* A packet out of GRO (NAPI_GRO_CB()->same_flow and ->flush): it goes up
 * the stack as received. */
void ipsec_rs_gro_flush(struct sk_buff *skb)
{
	NAPI_GRO_CB(skb)->same_flow = 0;
	NAPI_GRO_CB(skb)->flush = 1;
}
