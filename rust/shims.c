// SPDX-License-Identifier: GPL-2.0
/*
 * One-line forwarders for `static inline` kernel functions (see shims.h).
 * No logic lives here: the Rust side owns every decision.
 */
#include <linux/skbuff.h>
#include <linux/percpu.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>
#include <net/xfrm.h>
#include "shims.h"

void *ipsec_rs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

u64 ipsec_rs_net_cookie(const struct net *net)
{
	return net->net_cookie;
}

void __percpu *ipsec_rs_alloc_percpu_u64(size_t n)
{
	return __alloc_percpu(n * sizeof(u64), sizeof(u64));
}

void ipsec_rs_pcpu_add(u64 __percpu *base, size_t idx, u64 v)
{
	this_cpu_add(base[idx], v);
}

u64 ipsec_rs_pcpu_sum(u64 __percpu *base, size_t idx)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(base, cpu)[idx]);
	return sum;
}

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

struct sk_buff *ipsec_rs_genlmsg_new(size_t payload, bool atomic)
{
	return genlmsg_new(payload, atomic ? GFP_ATOMIC : GFP_KERNEL);
}

void ipsec_rs_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

int ipsec_rs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

int ipsec_rs_genlmsg_multicast_netns(const struct genl_family *family,
				     struct net *net, struct sk_buff *skb,
				     unsigned int group)
{
	return genlmsg_multicast_netns(family, net, skb, 0, group, GFP_ATOMIC);
}

struct net *ipsec_rs_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

const void *ipsec_rs_genl_info_payload(const struct genl_info *info, int *len)
{
	*len = genlmsg_len(info->genlhdr);
	return genlmsg_data(info->genlhdr);
}

void ipsec_rs_extack_msg(struct netlink_ext_ack *extack, const char *msg)
{
	/* NL_SET_ERR_MSG() wants a literal; ours are static strings from Rust. */
	if (extack)
		extack->_msg = msg;
}

void ipsec_rs_spin_lock_init(spinlock_t *lock)
{
	/* One lockdep class for all ipsec_rs BH locks: they never nest. */
	spin_lock_init(lock);
}

void ipsec_rs_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void ipsec_rs_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

u32 ipsec_rs_skb_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

void ipsec_rs_xfrm_state_put(struct xfrm_state *x)
{
	xfrm_state_put(x);
}
