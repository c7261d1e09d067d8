// SPDX-License-Identifier: GPL-2.0
/*
 * Forwarders for the `static inline` functions and macros of socket buffers
 * (linux/skbuff.h), and the skb bitfields bindgen cannot reach.
 */
#include <linux/skbuff.h>
#include <linux/etherdevice.h>
#include <linux/netdevice.h>
#include <net/dst_metadata.h>
#include <net/netfilter/nf_conntrack.h>
#include "helpers.h"

/* The fields Rust reads at the offsets of helpers.h (IPSEC_RS_OFF_*): their
 * types, as rust/skb.rs and rust/xfrm.rs read them. */
static_assert(sizeof_field(struct sk_buff, dev) == sizeof(struct net_device *));
static_assert(sizeof_field(struct sk_buff, network_header) == sizeof(u16));
static_assert(sizeof_field(struct sk_buff, mark) == sizeof(u32));

const void *ipsec_rs_skb_header_pointer(const struct sk_buff *skb, int offset,
					int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

int ipsec_rs_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

void ipsec_rs_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

bool ipsec_rs_pskb_may_pull(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, len);
}

int ipsec_rs_pskb_trim(struct sk_buff *skb, unsigned int len)
{
	return pskb_trim(skb, len);
}

/* skb_unclone(), GFP_ATOMIC: 0, or -ENOMEM. */
int ipsec_rs_skb_unclone_atomic(struct sk_buff *skb)
{
	return skb_unclone(skb, GFP_ATOMIC);
}

void *ipsec_rs___skb_push(struct sk_buff *skb, unsigned int len)
{
	return __skb_push(skb, len);
}

unsigned int ipsec_rs_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

void ipsec_rs_skb_csum_none(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_NONE;
}

void ipsec_rs_skb_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

void ipsec_rs_skb_reset_network_header(struct sk_buff *skb)
{
	skb_reset_network_header(skb);
}

void ipsec_rs_skb_set_network_header(struct sk_buff *skb, int offset)
{
	skb_set_network_header(skb, offset);
}

void ipsec_rs_skb_reset_transport_header(struct sk_buff *skb)
{
	skb_reset_transport_header(skb);
}

void ipsec_rs_skb_mac_header_rebuild(struct sk_buff *skb)
{
	skb_mac_header_rebuild(skb);
}

u16 ipsec_rs_skb_mac_len(const struct sk_buff *skb)
{
	return skb->mac_len;
}

/* eth_hdr(skb)->h_proto (the MAC header is an Ethernet one). */
void ipsec_rs_skb_set_eth_proto(struct sk_buff *skb, __be16 proto)
{
	eth_hdr(skb)->h_proto = proto;
}

u16 ipsec_rs_skb_protocol(const struct sk_buff *skb)
{
	return ntohs(skb->protocol);
}

void ipsec_rs_skb_set_protocol(struct sk_buff *skb, __be16 proto)
{
	skb->protocol = proto;
}

void ipsec_rs_skb_set_mark(struct sk_buff *skb, u32 mark)
{
	skb->mark = mark;
}

int ipsec_rs_skb_iif(const struct sk_buff *skb)
{
	return skb->skb_iif;
}

bool ipsec_rs_skb_ignore_df(const struct sk_buff *skb)
{
	return skb->ignore_df;
}

void ipsec_rs_skb_set_ignore_df(struct sk_buff *skb, bool on)
{
	skb->ignore_df = on;
}

bool ipsec_rs_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

bool ipsec_rs_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

/* What decides whether an skb's data can be written in place, packed in one
 * word (IPSEC_RS_SKB_*; the number of page fragments above bit 8): each
 * predicate is false, and nr_frags 0, for a linear skb. */
u32 ipsec_rs_skb_layout(const struct sk_buff *skb)
{
	return (u32)skb_cloned(skb) * IPSEC_RS_SKB_CLONED |
	       (u32)skb_is_nonlinear(skb) * IPSEC_RS_SKB_NONLINEAR |
	       (u32)skb_has_frag_list(skb) * IPSEC_RS_SKB_FRAG_LIST |
	       (u32)skb_has_shared_frag(skb) * IPSEC_RS_SKB_SHARED_FRAG |
	       ((u32)skb_shinfo(skb)->nr_frags << 8);
}

/* skb_valid_dst(): a route that is not a metadata dst. */
bool ipsec_rs_skb_valid_dst(const struct sk_buff *skb)
{
	return skb_valid_dst(skb);
}

void ipsec_rs_skb_dst_drop(struct sk_buff *skb)
{
	skb_dst_drop(skb);
}

/*
 * The stores xfrmi_scrub_packet() (static in xfrm_interface_core.c) makes
 * on a packet that stays in its namespace, then the device and its receive
 * statistics (dev_sw_netstats_rx_add(), as the tunnel drivers count).
 */
void ipsec_rs_skb_enter_device(struct sk_buff *skb, struct net_device *dev)
{
	skb_clear_tstamp(skb);
	skb->pkt_type = PACKET_HOST;
	skb->skb_iif = 0;
	skb->ignore_df = 0;
	nf_reset_trace(skb);
	skb->dev = dev;
	dev_sw_netstats_rx_add(dev, skb->len);
}

/* skb_scrub_packet() within the namespace (vti_rcv_cb()), then the device
 * and its receive statistics, as ipsec_rs_skb_enter_device(). */
void ipsec_rs_skb_enter_scrubbed(struct sk_buff *skb, struct net_device *dev)
{
	skb_scrub_packet(skb, false);
	skb->dev = dev;
	dev_sw_netstats_rx_add(dev, skb->len);
}
